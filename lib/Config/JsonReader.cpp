//===- JsonReader.cpp - Typed, path-tracking access to a JSON document ----===//

#include "JsonReader.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

using nlohmann::json;

namespace dgc::detail {

void JsonNode::fail(const std::string &message) const {
  throw ConfigError{file_, path_, message};
}

std::string JsonNode::childPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json *JsonNode::find(std::string_view key) const {
  expectObject();
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null())
    return nullptr;
  return &*it;
}

JsonNode JsonNode::member(std::string_view key) const {
  const json *value = find(key);
  if (!value)
    throw ConfigError{file_, childPath(key), "required field is missing"};
  return JsonNode(*value, childPath(key), file_, reads_);
}

JsonNode JsonNode::element(size_t index) const {
  return JsonNode(value_.at(index), path_ + "[" + std::to_string(index) + "]",
                  file_, reads_);
}

std::string JsonNode::describe() const {
  switch (value_.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return value_.get<bool>() ? "true" : "false";
  case json::value_t::string:
    return "the string \"" + value_.get<std::string>() + "\"";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return "the number " + value_.dump();
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return "an unsupported value";
  }
}

void JsonNode::expectObject() const {
  if (!value_.is_object())
    fail("expected an object, got " + describe());
}

void JsonNode::expectArray() const {
  if (!value_.is_array())
    fail("expected an array, got " + describe());
}

void JsonNode::record() const {
  if (reads_)
    (*reads_)[path_] = value_.dump();
}

int64_t JsonNode::asInt(int64_t min, int64_t max) const {
  record();
  std::string range = "an integer in [" + std::to_string(min) + ", " +
                      std::to_string(max) + "]";
  int64_t v;
  if (value_.is_number_unsigned()) {
    uint64_t u = value_.get<uint64_t>();
    if (u > static_cast<uint64_t>(max))
      fail("expected " + range + ", got " + describe());
    v = static_cast<int64_t>(u);
  } else if (value_.is_number_integer()) {
    v = value_.get<int64_t>();
  } else {
    fail("expected " + range + ", got " + describe());
  }
  if (v < min || v > max)
    fail("expected " + range + ", got " + describe());
  return v;
}

double JsonNode::asNumber() const {
  record();
  if (!value_.is_number())
    fail("expected a number, got " + describe());
  double v = value_.get<double>();
  if (!std::isfinite(v))
    fail("expected a finite number, got " + describe());
  return v;
}

bool JsonNode::asBool() const {
  record();
  if (!value_.is_boolean())
    fail("expected true or false, got " + describe());
  return value_.get<bool>();
}

std::string JsonNode::asString() const {
  record();
  if (!value_.is_string())
    fail("expected a string, got " + describe());
  return value_.get<std::string>();
}

std::vector<int64_t> JsonNode::asIntList(int64_t min, int64_t max) const {
  if (!value_.is_array())
    return {asInt(min, max)};
  if (value_.empty())
    fail("expected an integer or a non-empty list of integers, got an empty "
         "array");
  std::vector<int64_t> out;
  for (size_t i = 0; i < value_.size(); ++i)
    out.push_back(element(i).asInt(min, max));
  return out;
}

int64_t JsonNode::getInt(std::string_view key, int64_t dflt, int64_t min,
                         int64_t max) const {
  return find(key) ? member(key).asInt(min, max) : dflt;
}

int64_t JsonNode::requireInt(std::string_view key, int64_t min,
                             int64_t max) const {
  return member(key).asInt(min, max);
}

double JsonNode::getNumber(std::string_view key, double dflt) const {
  return find(key) ? member(key).asNumber() : dflt;
}

bool JsonNode::getBool(std::string_view key, bool dflt) const {
  return find(key) ? member(key).asBool() : dflt;
}

std::string JsonNode::getString(std::string_view key,
                                const std::string &dflt) const {
  return find(key) ? member(key).asString() : dflt;
}

constexpr int kMaxJsonDepth = 64;

json parseJson(std::string_view text, const std::string &file) {
  // The path to each open object or array, so that a key given twice (where
  // nlohmann would keep the last silently) and a number too large for a
  // double are named where they are.
  struct Open {
    bool object;
    std::string path;
    std::set<std::string> keys;
    size_t next = 0; // an array's next index
  };
  std::vector<Open> open;
  std::string key;
  auto here = [&]() -> std::string {
    if (open.empty())
      return "";
    const Open &o = open.back();
    if (!o.object)
      return o.path + "[" + std::to_string(o.next) + "]";
    return o.path.empty() ? key : o.path + "." + key;
  };
  auto callback = [&](int depth, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
    case json::parse_event_t::array_start: {
      std::string path = here();
      // A config nests a few levels; nlohmann's callback parser slows
      // quadratically with depth.
      if (depth >= kMaxJsonDepth)
        throw ConfigError{file, "",
                          "nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels"};
      if (!open.empty() && !open.back().object)
        ++open.back().next;
      open.push_back({event == json::parse_event_t::object_start, path, {}});
      break;
    }
    case json::parse_event_t::object_end:
    case json::parse_event_t::array_end:
      open.pop_back();
      break;
    case json::parse_event_t::key:
      key = parsed.get<std::string>();
      if (!open.back().keys.insert(key).second)
        throw ConfigError{file, here(),
                          "the key appears twice; give each key once"};
      break;
    case json::parse_event_t::value:
      if (!open.empty() && !open.back().object)
        ++open.back().next;
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception &e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string what = e.what();
    if (size_t pos = what.find("] "); pos != std::string::npos)
      what = what.substr(pos + 2);
    // A syntax error carries its line and column; a number out of range
    // (out_of_range.406) does not, so it gets the path of its value.
    if (dynamic_cast<const json::parse_error *>(&e))
      throw ConfigError{file, "", "malformed JSON: " + what};
    throw ConfigError{file, here(), what};
  }
}

std::string readFile(const std::string &file, size_t maxBytes) {
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (std::filesystem::is_directory(status))
    throw ConfigError{file, "", "is a directory, expected a JSON file"};
  // A FIFO or a device would block the read below.
  if (std::filesystem::exists(status) &&
      !std::filesystem::is_regular_file(status))
    throw ConfigError{file, "",
                      "is not a regular file (a FIFO, socket or device is "
                      "refused)"};
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  // The reason (missing, permission denied, a symlink loop) is open()'s.
  if (!in)
    throw ConfigError{file, "",
                      std::string("cannot open the file") +
                          (errno ? std::string(": ") + std::strerror(errno)
                                 : std::string())};
  std::ostringstream buffer;
  char chunk[65536];
  size_t total = 0;
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    total += static_cast<size_t>(in.gcount());
    if (total > maxBytes)
      throw ConfigError{file, "",
                        "the file is larger than " + std::to_string(maxBytes) +
                            " bytes; this is not a config"};
    buffer.write(chunk, in.gcount());
  }
  if (in.bad())
    throw ConfigError{file, "", "cannot read the file"};
  return buffer.str();
}

} // namespace dgc::detail
