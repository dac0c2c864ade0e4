//===- ApiRequest.cpp - OpenAI requests as dgc-serve takes them -----------===//

#include "ApiRequest.h"

#include "runtime/GenerationJson.h"
#include "runtime/StrictJson.h"

#include <map>

namespace dgc::serve {

using nlohmann::json;

json ApiError::body() const {
  json e = {{"message", message},
            {"type", type},
            {"param", param.empty() ? json() : json(param)},
            {"code", code.empty() ? json() : json(code)}};
  return {{"error", e}};
}

namespace {

enum class Kind {
  Model,
  Prompt,
  Messages,
  MaxTokens,
  Seed,
  Stop,
  N,
  Stream,
  StreamOptions,
  StreamDrafts,
  IgnoreEos,
  Generation
};

/// The fields each endpoint honours; every other one is refused.
const std::map<std::string, Kind> &fields(Endpoint endpoint) {
  static const std::map<std::string, Kind> common = [] {
    std::map<std::string, Kind> m = {
        {"model", Kind::Model},
        {"max_tokens", Kind::MaxTokens},
        {"seed", Kind::Seed},
        {"stop", Kind::Stop},
        {"n", Kind::N},
        {"stream", Kind::Stream},
        {"stream_options", Kind::StreamOptions},
        {"stream_drafts", Kind::StreamDrafts},
        {"ignore_eos", Kind::IgnoreEos},
    };
    // DiffusionGemma's sampler: the options a request may set.
    for (const runtime::GenerationField &f : runtime::generationFields())
      if (f.inRequests)
        m[f.name] = Kind::Generation;
    return m;
  }();
  static const std::map<std::string, Kind> completions = [] {
    auto m = common;
    m["prompt"] = Kind::Prompt;
    return m;
  }();
  static const std::map<std::string, Kind> chat = [] {
    auto m = common;
    m["messages"] = Kind::Messages;
    m["max_completion_tokens"] = Kind::MaxTokens;
    return m;
  }();
  return endpoint == Endpoint::Completions ? completions : chat;
}

std::string typeName(const json &v) {
  if (v.is_number_integer())
    return "an integer";
  if (v.is_number())
    return "a number";
  return std::string(v.is_array() || v.is_object() ? "an " : "a ") +
         v.type_name();
}

bool fail(ApiError &error, const std::string &param,
          const std::string &message) {
  error.status = 400;
  error.param = param;
  error.message = message;
  return false;
}

bool expect(ApiError &error, const std::string &key, const json &v,
            const std::string &what) {
  return fail(error, key, key + ": expected " + what + ", got " + typeName(v));
}

bool readMessages(const json &v, ApiRequest &r, ApiError &error) {
  if (!v.is_array() || v.empty())
    return expect(error, "messages", v, "a non-empty array of messages");
  static const char *const roles[] = {"system", "developer", "user",
                                      "assistant"};
  for (size_t i = 0; i < v.size(); ++i) {
    const json &m = v[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      return expect(error, at, m, "an object");
    for (auto &[key, value] : m.items())
      if (key != "role" && key != "content")
        return fail(error, at + "." + key,
                    at + ": unsupported field '" + key +
                        "' (a message has a role and a content)");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return fail(error, at + ".role", at + ": expected a \"role\" string");
    bool known = false;
    for (const char *name : roles)
      known = known || *role == name;
    if (!known)
      return fail(error, at + ".role",
                  at + ".role: '" + role->get<std::string>() +
                      "' is not one of system, developer, user, assistant");
    auto content = m.find("content");
    if (content == m.end())
      return fail(error, at + ".content", at + ": expected a \"content\"");
    if (content->is_array()) {
      for (size_t j = 0; j < content->size(); ++j) {
        const json &part = (*content)[j];
        std::string pat = at + ".content[" + std::to_string(j) + "]";
        if (!part.is_object() || !part.contains("type") ||
            part["type"] != "text" || !part.contains("text") ||
            !part["text"].is_string() || part.size() != 2)
          return fail(error, pat,
                      pat + ": expected {\"type\": \"text\", \"text\": "
                            "STRING} (only text parts are served)");
      }
    } else if (!content->is_string()) {
      return expect(error, at + ".content", *content,
                    "a string or an array of text parts");
    }
  }
  r.messages = v;
  return true;
}

bool readPrompt(const json &v, ApiRequest &r, ApiError &error) {
  if (v.is_string()) {
    if (v.get<std::string>().empty())
      return fail(error, "prompt", "prompt: the prompt is empty");
    r.promptText = v.get<std::string>();
    return true;
  }
  if (!v.is_array() || v.empty())
    return expect(error, "prompt", v,
                  "a string or a non-empty array of token ids");
  for (const json &id : v) {
    if (id.is_string())
      return fail(error, "prompt",
                  "prompt: a list of prompts is not served; send one "
                  "request per prompt");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > INT32_MAX)
      return fail(error, "prompt",
                  "prompt: expected token ids (non-negative integers), got " +
                      runtime::showJson(id));
    r.promptIds.push_back(id.get<int32_t>());
  }
  return true;
}

bool readField(const std::string &key, Kind kind, const json &v, ApiRequest &r,
               ApiError &error) {
  switch (kind) {
  case Kind::Model:
    if (!v.is_string())
      return expect(error, key, v, "a string");
    r.model = v.get<std::string>();
    return true;
  case Kind::Prompt:
    return readPrompt(v, r, error);
  case Kind::Messages:
    return readMessages(v, r, error);
  case Kind::MaxTokens:
    if (v.is_null())
      return true;
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      return expect(error, key, v, "a positive integer");
    if (r.maxTokens)
      return fail(error, key, key + ": max_tokens is given already");
    r.maxTokens = v.get<int64_t>();
    return true;
  case Kind::Seed:
    if (v.is_null())
      return true;
    if (!v.is_number_integer())
      return expect(error, key, v, "an integer");
    r.seed = v.is_number_unsigned() ? v.get<uint64_t>()
                                    : static_cast<uint64_t>(v.get<int64_t>());
    return true;
  case Kind::Stop:
    if (v.is_null())
      return true;
    if (v.is_string()) {
      r.stop = {v.get<std::string>()};
    } else if (v.is_array() && v.size() <= kMaxStops) {
      for (const json &s : v) {
        if (!s.is_string())
          return expect(error, key, s, "strings");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return expect(error, key, v,
                    "a string or an array of up to " +
                        std::to_string(kMaxStops) + " strings");
    }
    for (const std::string &s : r.stop)
      if (s.empty())
        return fail(error, key, "stop: a stop sequence is empty");
    return true;
  case Kind::N:
    if (v.is_null())
      return true;
    if (!v.is_number_integer() || v.get<int64_t>() < 1 ||
        v.get<int64_t>() > kMaxChoices)
      return fail(error, key,
                  "n: expected an integer from 1 to " +
                      std::to_string(kMaxChoices) + ", got " +
                      runtime::showJson(v));
    r.n = v.get<int64_t>();
    return true;
  case Kind::Stream:
  case Kind::StreamDrafts:
  case Kind::IgnoreEos:
    if (v.is_null())
      return true;
    if (!v.is_boolean())
      return expect(error, key, v, "a boolean");
    (kind == Kind::Stream         ? r.stream
     : kind == Kind::StreamDrafts ? r.streamDrafts
                                  : r.ignoreEos) = v.get<bool>();
    return true;
  case Kind::StreamOptions:
    if (v.is_null())
      return true;
    if (!v.is_object())
      return expect(error, key, v, "an object");
    for (auto &[k, o] : v.items()) {
      if (k != "include_usage")
        return fail(error, key + "." + k,
                    "stream_options: unsupported field '" + k +
                        "' (only include_usage)");
      if (!o.is_boolean())
        return expect(error, key + "." + k, o, "a boolean");
      r.includeUsage = o.get<bool>();
    }
    return true;
  case Kind::Generation:
    // Checked by the reader of every source of options.
    if (runtime::Status s = runtime::readGenerationValue(
            *runtime::generationFieldByName(key), v, key, r.generation);
        !s)
      return fail(error, key, s.error());
    return true;
  }
  return true;
}

} // namespace

std::optional<ApiRequest>
parseApiRequest(Endpoint endpoint, const std::string &body, ApiError &error) {
  std::string problem;
  std::optional<json> doc =
      runtime::parseStrictJson(body, kMaxJsonDepth, "key", problem);
  if (!doc) {
    fail(error, "", "the body is not valid JSON: " + problem);
    return std::nullopt;
  }
  if (!doc->is_object()) {
    fail(error, "", "the body must be a JSON object, got " + typeName(*doc));
    return std::nullopt;
  }
  ApiRequest r;
  r.endpoint = endpoint;
  const auto &known = fields(endpoint);
  for (auto &[key, value] : doc->items()) {
    auto field = known.find(key);
    if (field == known.end()) {
      std::string names;
      for (auto &[name, kind] : known)
        names += (names.empty() ? "" : ", ") + name;
      fail(error, key,
           "unsupported field '" + key +
               "': dgc-serve refuses what it does not honour (it takes " +
               names + ")");
      return std::nullopt;
    }
    if (!readField(key, field->second, value, r, error))
      return std::nullopt;
  }
  const char *what = endpoint == Endpoint::Completions ? "prompt" : "messages";
  if (!doc->contains("model")) {
    fail(error, "model", "expected a \"model\"");
    return std::nullopt;
  }
  if (!doc->contains(what) || (*doc)[what].is_null()) {
    fail(error, what, std::string("expected \"") + what + "\"");
    return std::nullopt;
  }
  if (r.includeUsage && !r.stream) {
    fail(error, "stream_options", "stream_options: only with \"stream\": true");
    return std::nullopt;
  }
  if (r.streamDrafts && !r.stream) {
    fail(error, "stream_drafts", "stream_drafts: only with \"stream\": true");
    return std::nullopt;
  }
  if (r.maxTokens)
    if (runtime::Status s = runtime::readGenerationValue(
            *runtime::generationFieldByName("max_new_tokens"),
            json(*r.maxTokens), "max_tokens", r.generation);
        !s) {
      fail(error, "max_tokens", s.error());
      return std::nullopt;
    }
  return r;
}

} // namespace dgc::serve
