//===- Files.h - Reading the files a user names ------------------*- C++
//-*-===//
//
// Every file the runtime reads is named by a user (a module, a checkpoint, a
// tokenizer, a batch file). A FIFO or a device in its place would block a
// plain open or read forever, so files are opened without blocking and
// refused unless they are regular.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_FILES_H
#define DGC_RUNTIME_FILES_H

#include "dgc/runtime/Result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dgc::runtime {

/// The bytes of the regular file `path`, at most `limit` of them; else an
/// error naming the file and the problem (missing, not a regular file, too
/// large, unreadable).
Result<std::string> readRegularFile(const std::string &path,
                                    uint64_t limit = uint64_t(1) << 30);

/// Whether `path` names an existing file of any kind, a broken symbolic
/// link included (without opening it).
bool fileExists(const std::string &path);

/// Whether `bytes` of host memory for `what` fit in what the system has
/// available now (MemAvailable plus free swap); else an error that gives
/// both sizes. Touching more than that would not fail cleanly: the kernel
/// would kill the process part way.
Status checkHostMemory(uint64_t bytes, const std::string &what);

/// A /proc file's text (which reports a size of 0), or nullopt.
std::optional<std::string> readProcFile(const char *path);

/// Those of `flags` (/proc/cpuinfo's names: avx2, avx512f, ...) that this
/// machine's CPU lacks; none when it cannot tell.
std::vector<std::string> missingCpuFlags(const std::vector<std::string> &flags);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_FILES_H
