//===- ApiRequest.h - OpenAI requests as dgc-serve takes them ----*- C++
//-*-===//
//
// The body of POST /v1/completions or /v1/chat/completions, parsed and
// checked field by field before anything is tokenized. A field the server
// does not honour is refused by name, never ignored, so that a client never
// believes a setting took effect when it did not.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_APIREQUEST_H
#define DGC_SERVE_APIREQUEST_H

#include "dgc/runtime/GenerationOptions.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dgc::serve {

/// An OpenAI error response: the HTTP status and the "error" object.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param; // the field at fault, if one is
  std::string code;
  nlohmann::json body() const;
};

enum class Endpoint { Completions, ChatCompletions };

struct ApiRequest {
  Endpoint endpoint = Endpoint::Completions;
  std::string model;
  /// Completions: the prompt as text, or as token ids.
  std::optional<std::string> promptText;
  std::vector<int32_t> promptIds;
  /// Chat: the messages, checked to be {role, content} objects.
  nlohmann::json messages;
  /// The sampler's options this request sets (max_tokens, t_min, ...),
  /// applied over the server's defaults.
  runtime::GenerationOverrides generation;
  std::optional<int64_t> maxTokens;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  int64_t n = 1;
  bool stream = false;
  bool includeUsage = false; // stream_options.include_usage
  bool streamDrafts = false; // dgc extension: each denoise step's draft
  bool ignoreEos = false;    // extension (as vLLM's): generate max_tokens
};

/// How large a request may be.
constexpr int kMaxChoices = 16;
constexpr int kMaxStops = 4;
constexpr int kMaxJsonDepth = 16;

/// Parses and checks `body`; an error names the field and the rule.
std::optional<ApiRequest>
parseApiRequest(Endpoint endpoint, const std::string &body, ApiError &error);

} // namespace dgc::serve

#endif // DGC_SERVE_APIREQUEST_H
