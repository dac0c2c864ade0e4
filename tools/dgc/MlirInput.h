//===- MlirInput.h - Opening an MLIR file for the parser ------------------===//
//
// What dgc compile and dgc-opt share: a file of MLIR is checked before the
// parser sees it, since the parser would block on a FIFO and recurse once per
// nesting level until the stack overflows.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_MLIRINPUT_H
#define DGC_TOOLS_MLIRINPUT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace dgc {

/// The deepest nesting of brackets, braces, parentheses and angle brackets
/// an MLIR file may have: far beyond any real IR, and far below what
/// overflows the recursive-descent parser's stack.
constexpr unsigned kMaxMlirNesting = 512;

/// Where the text first nests deeper than `limit` levels, as FILE:LINE:COL,
/// or an empty string. Strings and comments do not count; neither does the
/// `>` of `->` or `>=`. MLIR bytecode is not text and is not checked.
std::string findDeepNesting(llvm::StringRef text, llvm::StringRef file,
                            unsigned limit = kMaxMlirNesting);

/// Reads `path` ("-": stdin) for the MLIR parser, or prints why not under
/// the name `tool` and returns null: a file that is not a regular one (a
/// FIFO would block the read), one that cannot be read, and text nested
/// deeper than kMaxMlirNesting are refused.
std::unique_ptr<llvm::MemoryBuffer> openMlirInput(llvm::StringRef path,
                                                  llvm::StringRef tool);

} // namespace dgc

#endif // DGC_TOOLS_MLIRINPUT_H
