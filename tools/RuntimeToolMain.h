//===- RuntimeToolMain.h - main() of the runtime tools ----------*- C++ -*-===//
//
// dgc-run, dgc-serve, dgc-bench and dgc-kernel-check start and end alike: `--version`
// prints dgc's version line, and whatever escapes the tool (an allocation
// beyond the host's memory, a library's exception) is one line naming it,
// never an abort.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_RUNTIMETOOLMAIN_H
#define DGC_TOOLS_RUNTIMETOOLMAIN_H

#include "dgc/Version.h"

#include <cstdio>
#include <exception>
#include <new>
#include <string_view>

namespace dgc {

inline int runtimeToolMain(const char *tool, int argc, char **argv,
                           int (*run)(int, char **)) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("%s\n", DGC_VERSION_LINE);
    return 0;
  }
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
