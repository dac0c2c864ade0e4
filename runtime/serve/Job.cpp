//===- Job.cpp - One HTTP request's generations ---------------------------===//

#include "Job.h"

#include <algorithm>

namespace dgc::serve {

using nlohmann::json;

std::string choiceText(const runtime::Tokenizer *tokenizer,
                       const std::vector<int32_t> &tokens,
                       const std::vector<std::string> &stops, size_t *stopAt) {
  std::string text;
  if (tokenizer) {
    text = tokenizer->decode(tokens, /*skipSpecial=*/true);
  } else {
    for (size_t i = 0; i < tokens.size(); ++i)
      text += (i ? " " : "") + std::to_string(tokens[i]);
  }
  size_t first = std::string::npos;
  for (const std::string &s : stops)
    first = std::min(first, text.find(s));
  if (stopAt)
    *stopAt = first;
  if (first != std::string::npos)
    text.resize(first);
  return text;
}

size_t streamable(const std::string &text,
                  const std::vector<std::string> &stops) {
  size_t n = text.size();
  // Byte fallback decodes half a character as U+FFFD until the rest lands.
  static const std::string replacement = "\xef\xbf\xbd";
  while (n >= 3 && text.compare(n - 3, 3, replacement) == 0)
    n -= 3;
  size_t hold = 0;
  for (const std::string &s : stops)
    for (size_t k = std::min(s.size() - 1, n); k > hold; --k)
      if (text.compare(n - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return n - hold;
}

std::string finishReason(const Choice &c, const Job &job) {
  const auto &eos = job.options.eosIds;
  if (c.stopHit ||
      (!c.tokens.empty() &&
       std::find(eos.begin(), eos.end(), c.tokens.back()) != eos.end()))
    return "stop";
  return static_cast<int64_t>(c.tokens.size()) >= job.maxTokens ? "length"
                                                                : "stop";
}

int64_t completionTokens(const runtime::Tokenizer *tokenizer, const Choice &c,
                         const std::vector<std::string> &stops) {
  if (!c.stopHit || !tokenizer)
    return static_cast<int64_t>(c.tokens.size());
  // The tokens up to the one that completed the stop sequence.
  for (size_t k = 1; k <= c.tokens.size(); ++k) {
    size_t at;
    choiceText(tokenizer, {c.tokens.begin(), c.tokens.begin() + k}, stops, &at);
    if (at != std::string::npos)
      return static_cast<int64_t>(k);
  }
  return static_cast<int64_t>(c.tokens.size());
}

namespace {

bool isChat(const Job &job) {
  return job.request.endpoint == Endpoint::ChatCompletions;
}

json usage(const runtime::Tokenizer *tokenizer, const Job &job) {
  int64_t completion = 0;
  for (const Choice &c : job.choices)
    completion += completionTokens(tokenizer, c, job.request.stop);
  return {{"prompt_tokens", job.promptTokens},
          {"completion_tokens", completion},
          {"total_tokens", job.promptTokens + completion}};
}

json chunk(const Job &job, json choices) {
  return {{"id", job.id},
          {"object", isChat(job) ? "chat.completion.chunk" : "text_completion"},
          {"created", job.created},
          {"model", job.model},
          {"choices", std::move(choices)}};
}

json deltaChoice(const Job &job, Choice &c, size_t index,
                 const std::string &text, const json &finish) {
  json out = {
      {"index", index}, {"logprobs", nullptr}, {"finish_reason", finish}};
  if (isChat(job)) {
    json delta = json::object();
    if (!c.sentRole) {
      delta["role"] = "assistant";
      c.sentRole = true;
    }
    if (!text.empty())
      delta["content"] = text;
    out["delta"] = delta;
  } else {
    out["text"] = text;
  }
  return out;
}

std::string event(const json &data) { return "data: " + data.dump() + "\n\n"; }

} // namespace

json answer(const runtime::Tokenizer *tokenizer, Job &job) {
  json choices = json::array();
  for (size_t i = 0; i < job.choices.size(); ++i) {
    Choice &c = job.choices[i];
    std::string text = choiceText(tokenizer, c.tokens, job.request.stop);
    json choice = {{"index", i},
                   {"logprobs", nullptr},
                   {"finish_reason", finishReason(c, job)}};
    if (isChat(job))
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    else
      choice["text"] = text;
    choice["dgc"] = {
        {"seed", c.seed},
        {"token_ids", c.tokens},
        {"canvases", c.result.canvases},
        {"denoise_steps", c.steps},
        {"decoder_passes", c.result.decoderPasses},
        {"tokens_per_forward",
         c.result.decoderPasses
             ? double(c.tokens.size()) / double(c.result.decoderPasses)
             : 0.0}};
    choices.push_back(std::move(choice));
  }
  return {{"id", job.id},
          {"object", isChat(job) ? "chat.completion" : "text_completion"},
          {"created", job.created},
          {"model", job.model},
          {"choices", std::move(choices)},
          {"usage", usage(tokenizer, job)}};
}

std::string nextEvents(const runtime::Tokenizer *tokenizer,
                       const std::vector<bool> &byteTokens, Job &job) {
  std::string out;
  while (!job.drafts.empty()) {
    out += event(chunk(job, json::array({job.drafts.front()})));
    job.drafts.pop_front();
  }
  for (size_t i = 0; i < job.choices.size(); ++i) {
    Choice &c = job.choices[i];
    if (c.closed)
      continue;
    std::vector<int32_t> settled = c.tokens;
    auto isByte = [&](int32_t id) {
      return id >= 0 && size_t(id) < byteTokens.size() && byteTokens[id];
    };
    while (!c.finished && !settled.empty() && isByte(settled.back()))
      settled.pop_back();
    std::string text = choiceText(tokenizer, settled, job.request.stop);
    size_t upTo = c.finished ? text.size() : streamable(text, job.request.stop);
    std::string delta;
    if (upTo > c.sent.size() && text.compare(0, c.sent.size(), c.sent) == 0)
      delta = text.substr(c.sent.size(), upTo - c.sent.size());
    if (!delta.empty() || (!c.sentRole && isChat(job))) {
      out += event(
          chunk(job, json::array({deltaChoice(job, c, i, delta, nullptr)})));
      c.sent += delta;
    }
    if (c.finished && !c.result.error.empty() && !c.result.cancelled) {
      // The openai client raises an APIError for an event holding "error".
      ApiError e{500, "choice " + std::to_string(i) + ": " + c.result.error,
                 "server_error", "", "generation_failed"};
      out += event(e.body());
    }
    if (c.finished) {
      out += event(chunk(job, json::array({deltaChoice(
                                  job, c, i, "", finishReason(c, job))})));
      c.closed = true;
    }
  }
  if (job.unfinished == 0 && !job.doneSent) {
    if (job.request.includeUsage) {
      json last = chunk(job, json::array());
      last["usage"] = usage(tokenizer, job);
      out += event(last);
    }
    out += "data: [DONE]\n\n";
    job.doneSent = true;
  }
  return out;
}

} // namespace dgc::serve
