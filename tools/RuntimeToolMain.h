//===- RuntimeToolMain.h - main() of the runtime tools ----------*- C++ -*-===//
//
// dgc-run, dgc-serve, dgc-bench and dgc-kernel-check start and end alike:
// `--version` prints dgc's version line, and whatever escapes the tool (an
// allocation beyond the host's memory, a library's exception) is one line
// naming it, never an abort. They also keep the host code's freed buffers in
// the heap (keepFreedBuffers).
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_RUNTIMETOOLMAIN_H
#define DGC_TOOLS_RUNTIMETOOLMAIN_H

#include "dgc/Version.h"

#include <climits>
#include <cstdio>
#include <exception>
#include <malloc.h>
#include <new>
#include <string_view>

namespace dgc {

/// The host code allocates each temporary of a graph call and frees it after
/// its last use. By default glibc hands blocks over 128 KB back to the
/// kernel at once, so every call faulted and zeroed them again: a quarter
/// of a prefill of bench/configs/small. Blocks up to 32 MB (glibc's limit)
/// now come from the heap, which keeps what is freed for the next call.
inline void keepFreedBuffers() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

inline int runtimeToolMain(const char *tool, int argc, char **argv,
                           int (*run)(int, char **)) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("%s\n", DGC_VERSION_LINE);
    return 0;
  }
  keepFreedBuffers();
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "%s: out of host memory\n", tool);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: internal error: %s\n", tool, e.what());
  }
  return 1;
}

} // namespace dgc

#endif // DGC_TOOLS_RUNTIMETOOLMAIN_H
