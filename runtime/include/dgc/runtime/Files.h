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

#include "dgc/runtime/Safetensors.h"

#include <cstdint>
#include <string>

namespace dgc::runtime {

/// The bytes of the regular file `path`, at most `limit` of them; else an
/// error naming the file and the problem (missing, not a regular file, too
/// large, unreadable).
Result<std::string> readRegularFile(const std::string &path,
                                    uint64_t limit = uint64_t(1) << 30);

/// Whether `path` names an existing file of any kind (without opening it).
bool fileExists(const std::string &path);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_FILES_H
