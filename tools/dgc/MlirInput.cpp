//===- MlirInput.cpp - Opening an MLIR file for the parser ----------------===//

#include "MlirInput.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace dgc {

std::string findDeepNesting(StringRef text, StringRef file, unsigned limit) {
  if (text.starts_with("ML\xef\x52")) // bytecode
    return "";
  unsigned depth = 0, line = 1;
  size_t lineStart = 0;
  for (size_t i = 0, n = text.size(); i < n; ++i) {
    char c = text[i];
    switch (c) {
    case '\n':
      ++line;
      lineStart = i + 1;
      break;
    case '"':
      // A string ends at the next unescaped quote (or the line's end, where
      // the parser reports it unterminated).
      for (++i; i < n && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\' && i + 1 < n && text[i + 1] != '\n')
          ++i;
      if (i < n && text[i] == '\n')
        --i;
      break;
    case '/':
      if (i + 1 < n && text[i + 1] == '/')
        while (i + 1 < n && text[i + 1] != '\n')
          ++i;
      break;
    case '(':
    case '[':
    case '{':
    case '<':
      if (++depth > limit)
        return (file + ":" + Twine(line) + ":" + Twine(i - lineStart + 1))
            .str();
      break;
    case '>':
      // `->` and `>=` (of an integer set) close nothing.
      if ((i > 0 && text[i - 1] == '-') || (i + 1 < n && text[i + 1] == '='))
        break;
      [[fallthrough]];
    case ')':
    case ']':
    case '}':
      if (depth)
        --depth;
      break;
    default:
      break;
    }
  }
  return "";
}

std::unique_ptr<MemoryBuffer> openMlirInput(StringRef path, StringRef tool) {
  // A FIFO or a device would block the read; a directory is left to the
  // open below, which names it.
  sys::fs::file_status status;
  if (path != "-" && !sys::fs::status(path, status) &&
      status.type() != sys::fs::file_type::regular_file &&
      status.type() != sys::fs::file_type::directory_file) {
    WithColor::error(errs(), tool)
        << path
        << ": is not a regular file (a FIFO, socket or device is refused)\n";
    return nullptr;
  }
  std::string error;
  auto file = mlir::openInputFile(path, &error);
  if (!file) {
    WithColor::error(errs(), tool) << error << "\n";
    return nullptr;
  }
  StringRef name = path == "-" ? StringRef("<stdin>") : path;
  if (std::string where =
          findDeepNesting(file->getBuffer(), name, kMaxMlirNesting);
      !where.empty()) {
    WithColor::error(errs(), where)
        << "nested deeper than " << kMaxMlirNesting
        << " levels of brackets, braces, parentheses and angle brackets, "
           "the most an input may nest\n";
    return nullptr;
  }
  return file;
}

} // namespace dgc
