//===- Job.h - One HTTP request's generations -------------------*- C++ -*-===//
//
// A request asks for n choices; each is one Generator request with its own
// seed. The generation thread fills a Job as canvases land; the HTTP thread
// waits on it and writes the answer, whole or as server-sent events. Text
// is always cut from the same decoded tokens, so that the streamed deltas
// add up to the text of the whole answer.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_JOB_H
#define DGC_SERVE_JOB_H

#include "ApiRequest.h"

#include "dgc/runtime/Generator.h"
#include "dgc/runtime/Tokenizer.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace dgc::serve {

struct Choice {
  size_t request = 0; // the Generator's index
  uint64_t seed = 0;
  std::vector<int32_t> tokens; // committed, up to eos and max_tokens
  bool finished = false, stopHit = false;
  runtime::GenerationResult result;
  int64_t steps = 0;
  std::chrono::steady_clock::time_point lastStep;
  std::string sent; // text streamed so far
  bool sentRole = false;
  bool closed = false; // its last event is sent
};

struct Job {
  std::mutex mutex;
  std::condition_variable changed;
  ApiRequest request;
  runtime::GenerationOptions options;
  std::string id, model;
  int64_t created = 0;
  int64_t promptTokens = 0;
  int64_t maxTokens = 0;
  std::vector<Choice> choices;
  int64_t unfinished = 0;
  std::deque<nlohmann::json> drafts; // stream_drafts events not yet sent
  std::chrono::steady_clock::time_point start;
  bool doneSent = false;
};

/// Decodes a choice's tokens as the answer's text: specials dropped, cut
/// before the first stop sequence (`stopAt` gets where, or npos).
std::string choiceText(const runtime::Tokenizer *tokenizer,
                       const std::vector<int32_t> &tokens,
                       const std::vector<std::string> &stops,
                       size_t *stopAt = nullptr);

/// How much of an unfinished choice's text may be streamed: not a trailing
/// incomplete character, nor a tail that may yet become a stop sequence.
size_t streamable(const std::string &text,
                  const std::vector<std::string> &stops);

/// "stop" (eos or a stop sequence) or "length" (max_tokens).
std::string finishReason(const Choice &c, const Job &job);
/// Completion tokens a choice returns (up to its stop sequence).
int64_t completionTokens(const runtime::Tokenizer *tokenizer, const Choice &c,
                         const std::vector<std::string> &stops);

/// The whole answer, as OpenAI writes it; the job is finished.
nlohmann::json answer(const runtime::Tokenizer *tokenizer, Job &job);
/// The next server-sent events of a streaming job ("data: ...\n\n" each),
/// including the final ones and [DONE] once it is finished. `byteTokens`
/// marks the byte-fallback ids and the special ones (which decode to
/// nothing): a run of them at the end is not streamed yet, since the bytes
/// that follow decide how it decodes.
std::string nextEvents(const runtime::Tokenizer *tokenizer,
                       const std::vector<bool> &byteTokens, Job &job);

} // namespace dgc::serve

#endif // DGC_SERVE_JOB_H
