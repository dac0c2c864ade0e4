//===- StrictJson.h - JSON parsing for untrusted runtime inputs -*- C++ -*-===//
//
// Internal to the runtime. nlohmann/json silently keeps the last of duplicate
// keys and happily builds arbitrarily deep values; checkpoint files are
// untrusted input, so both are refused here with a message instead.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_STRICTJSON_H
#define DGC_RUNTIME_STRICTJSON_H

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dgc::runtime {

/// Parses `text`. On failure returns nullopt and sets `problem`; a duplicate
/// key at the top level is called a `topLevelNoun` ("tensor", "key").
/// Never throws.
std::optional<nlohmann::json> parseStrictJson(std::string_view text,
                                              int maxDepth,
                                              std::string_view topLevelNoun,
                                              std::string &problem);

/// A short, always printable rendering of `value` for messages.
std::string showJson(const nlohmann::json &value);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_STRICTJSON_H
