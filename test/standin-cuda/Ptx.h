//===- Ptx.h - What the stand-in driver reads from PTX text -----*- C++ -*-===//
//
// The stand-in CUDA driver runs no kernel, but it reads each module's PTX
// as far as a launch's checks need: the kernels, their parameters, the
// block shapes they declare and the shared memory they use. Text that the
// driver's JIT would reject for its structure (no .version or .target, no
// kernel, unbalanced braces, stray words between functions) is rejected.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_STANDINCUDA_PTX_H
#define DGC_TEST_STANDINCUDA_PTX_H

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace dgc::standin {

/// One `.param` of a kernel.
struct PtxParam {
  std::string name;
  size_t bytes = 0;     // what the launch copies from its argument pointer
  bool pointer = false; // declared `.ptr`: an address the kernel reads
};

/// One `.entry`.
struct PtxEntry {
  std::string name;
  std::vector<PtxParam> params;
  std::array<unsigned, 3> maxntid{0, 0, 0}; // 0: not declared
  std::array<unsigned, 3> reqntid{0, 0, 0};
  unsigned maxnreg = 0;
  /// Bytes of `.shared` variables it declares or names (module-scope ones
  /// it refers to); extern (dynamic) arrays count nothing.
  size_t staticSharedBytes = 0;
};

struct PtxModule {
  int versionMajor = 0, versionMinor = 0;
  std::string target; // the first word of .target, e.g. sm_90a
  std::vector<PtxEntry> entries;
};

/// The error a JIT compiler would give, in its log's words.
struct PtxError {
  std::string message;
};

/// Parses `text`; false after filling `error` (a line number and what is
/// wrong).
bool parsePtx(const std::string &text, PtxModule &module, PtxError &error);

} // namespace dgc::standin

#endif // DGC_TEST_STANDINCUDA_PTX_H
