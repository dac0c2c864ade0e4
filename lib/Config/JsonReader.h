//===- JsonReader.h - Typed, path-tracking access to a JSON document ------===//
//
// Internal to the config library. Every accessor knows the JSON path of the
// value it reads, so a failure can say exactly where and what was expected.
// Failures are thrown as ConfigError and caught at the library's boundary.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_LIB_CONFIG_JSONREADER_H
#define DGC_LIB_CONFIG_JSONREADER_H

#include "dgc/Config.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>

namespace dgc::detail {

/// One JSON value and the path that leads to it.
class JsonNode {
public:
  /// With `reads`, every scalar read through this node or its children is
  /// recorded there: its path and its JSON text.
  JsonNode(const nlohmann::json &value, std::string path,
           const std::string &file,
           std::map<std::string, std::string> *reads = nullptr)
      : value_(value), path_(std::move(path)), file_(file), reads_(reads) {}

  const nlohmann::json &raw() const { return value_; }
  const std::string &path() const { return path_; }

  [[noreturn]] void fail(const std::string &message) const;

  /// The member `key`, or nullptr when it is absent or null.
  const nlohmann::json *find(std::string_view key) const;
  JsonNode member(std::string_view key) const; // must exist
  JsonNode element(size_t index) const;        // of an array
  std::string childPath(std::string_view key) const;

  /// This node, its reads no longer recorded (for values that do not shape
  /// the graphs, or that two spellings give alike).
  JsonNode unrecorded() const { return JsonNode(value_, path_, file_); }

  void expectObject() const;
  void expectArray() const;

  int64_t asInt(int64_t min, int64_t max) const;
  double asNumber() const;
  bool asBool() const;
  std::string asString() const;
  /// An integer or a list of integers (as `eos_token_id` may be).
  std::vector<int64_t> asIntList(int64_t min, int64_t max) const;

  /// Optional members: the default when absent or null.
  int64_t getInt(std::string_view key, int64_t dflt, int64_t min,
                 int64_t max) const;
  int64_t requireInt(std::string_view key, int64_t min, int64_t max) const;
  double getNumber(std::string_view key, double dflt) const;
  bool getBool(std::string_view key, bool dflt) const;
  std::string getString(std::string_view key, const std::string &dflt) const;

private:
  std::string describe() const; // "a string", "the number 3", ...
  void record() const;
  const nlohmann::json &value_;
  std::string path_;
  const std::string &file_;
  std::map<std::string, std::string> *reads_;
};

/// Parses `text` or throws a ConfigError naming `file` and the position.
nlohmann::json parseJson(std::string_view text, const std::string &file);

/// Reads a whole file (at most `maxBytes`) or throws a ConfigError.
std::string readFile(const std::string &file, size_t maxBytes);

} // namespace dgc::detail

#endif // DGC_LIB_CONFIG_JSONREADER_H
