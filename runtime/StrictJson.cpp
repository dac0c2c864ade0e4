//===- StrictJson.cpp - JSON parsing for untrusted runtime inputs ---------===//

#include "StrictJson.h"

#include <set>
#include <vector>

using nlohmann::json;

namespace dgc::runtime {

namespace {
/// Thrown from the parser callback to stop parsing; caught below.
struct Rejected {
  std::string why;
};

std::string stripExceptionPrefix(const char *what) {
  // "[json.exception.parse_error.101] parse error at ..." -> "parse error at"
  std::string text = what;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find("] ");
    if (close != std::string::npos)
      return text.substr(close + 2);
  }
  return text;
}
} // namespace

std::optional<json> parseStrictJson(std::string_view text, int maxDepth,
                                    std::string_view topLevelNoun,
                                    std::string &problem) {
  // nlohmann/json stops at a NUL byte as if the text ended there, which
  // would accept whatever follows it unread.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    problem = "not valid JSON: a NUL byte at offset " + std::to_string(nul);
    return std::nullopt;
  }
  // One key set per open object, and the key that opened each nested value
  // (to say where a duplicate is).
  std::vector<std::set<std::string>> keys;
  std::vector<std::string> path;
  std::string lastKey;
  auto callback = [&](int depth, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
    case json::parse_event_t::array_start:
      if (depth >= maxDepth)
        throw Rejected{"nesting deeper than " + std::to_string(maxDepth) +
                       " levels"};
      path.push_back(depth == 0 ? std::string() : lastKey);
      keys.emplace_back(); // Empty for arrays; keeps the stacks aligned.
      break;
    case json::parse_event_t::object_end:
    case json::parse_event_t::array_end:
      keys.pop_back();
      path.pop_back();
      break;
    case json::parse_event_t::key: {
      lastKey = parsed.get<std::string>();
      if (keys.back().insert(lastKey).second)
        break;
      if (depth == 1)
        throw Rejected{std::string(topLevelNoun) + " '" + lastKey +
                       "' appears twice"};
      throw Rejected{"'" + path.back() + "': key '" + lastKey +
                     "' appears twice"};
    }
    case json::parse_event_t::value:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const Rejected &rejected) {
    problem = rejected.why;
  } catch (const std::exception &e) {
    problem = "not valid JSON: " + stripExceptionPrefix(e.what());
  }
  return std::nullopt;
}

std::string showJson(const json &value) {
  constexpr size_t kMaxChars = 40;
  std::string text;
  try {
    text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception &) {
    return "<unprintable>";
  }
  if (text.size() > kMaxChars)
    text = text.substr(0, kMaxChars) + "...";
  return text;
}

} // namespace dgc::runtime
