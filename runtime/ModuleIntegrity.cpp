//===- ModuleIntegrity.cpp - A module's files against its SHA256SUMS ------===//
//
// `dgc compile` lists the SHA-256 of manifest.json and of each target's
// library in MODEL.dgm/SHA256SUMS. A file edited, damaged or copied in from
// another compile after that is refused here, before it is parsed or its
// code is loaded: a manifest whose offsets or shapes were changed, or a
// host.so of another config, would otherwise run and compute nonsense.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Manifest.h"

#include "dgc/runtime/Files.h"
#include "dgc/runtime/Sha256.h"

#include <nlohmann/json.hpp>

#include <sstream>

namespace dgc::runtime {
namespace {

constexpr uint64_t kMaxSumsBytes = 1 << 16;

bool isHexDigest(const std::string &text) {
  return text.size() == 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

/// SHA256SUMS's digest of `name`, or an error naming the file and the rule.
Result<std::string> listedDigest(const std::string &directory,
                                 const std::string &name) {
  std::string sumsPath = directory + "/" + kModuleSumsFile;
  if (!fileExists(sumsPath))
    return Error{sumsPath +
                 ": missing; a module records the SHA-256 of its files "
                 "there (compile it again with dgc compile)"};
  Result<std::string> text = readRegularFile(sumsPath, kMaxSumsBytes);
  if (!text)
    return Error{text.error()};
  std::istringstream lines(*text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    // `sha256sum` writes "DIGEST  NAME" (two spaces; " *NAME" in binary mode).
    if (line.size() < 67 || line[64] != ' ' ||
        (line[65] != ' ' && line[65] != '*') ||
        !isHexDigest(line.substr(0, 64)))
      return Error{sumsPath + ":" + std::to_string(number) +
                   ": expected \"SHA256  FILE\" (64 lowercase hex digits, two "
                   "spaces, a file name)"};
    if (line.substr(66) == name)
      return line.substr(0, 64);
  }
  return Error{sumsPath + ": lists no digest for " + name};
}

} // namespace

std::string manifestCodeDigest(std::string_view manifestText) {
  nlohmann::json doc = nlohmann::json::parse(
      manifestText.begin(), manifestText.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return "";
  doc.erase("targets");
  return sha256Hex(doc.dump());
}

Status verifyModuleFile(const std::string &directory, const std::string &name,
                        std::string_view bytes) {
  Result<std::string> listed = listedDigest(directory, name);
  if (!listed)
    return Error{listed.error()};
  std::string actual = sha256Hex(bytes);
  if (actual != *listed)
    return Error{directory + "/" + name + ": its SHA-256 is " + actual +
                 ", not the " + *listed + " that " + directory + "/" +
                 kModuleSumsFile +
                 " lists: the file was changed after dgc compile wrote it "
                 "(compile the module again)"};
  return Status();
}

} // namespace dgc::runtime
