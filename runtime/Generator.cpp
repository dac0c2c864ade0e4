//===- Generator.cpp - Block-diffusion generation for many requests -------===//
//
// The order of random draws per request is transformers': the canvas's C
// uniform ids, then per step C samples followed by C uniform renoise ids (all
// positions, accepted or not). The canvas handed to the commit pass is the
// last step's argmax after eos padding; a request's last canvas is not
// encoded, as no later step would read it.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Generator.h"

#include "dgc/runtime/PromptImages.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>

namespace dgc::runtime {

struct Generator::Running {
  size_t index = 0;
  RequestId id = -1;
  RandomSource *random = nullptr;
  std::unique_ptr<SeededRandom> seeded;
  std::vector<int64_t> budget; // pages reserved in the ledger, per pool
  int64_t committed = 0;       // L
  int64_t k = 0;
  int64_t canvasIndex = 0, stepInCanvas = 0;
  std::vector<int32_t> canvas, argmax;
  std::vector<float> sc; // the previous step's soft embedding, [C, H]
  bool scEnabled = false;
  StopCriterion stop{1, 0};
  bool done = false;
};

double GenerationResult::tokensPerForward(int32_t padId) const {
  if (decoderPasses == 0)
    return 0;
  auto kept = std::count_if(tokens.begin(), tokens.end(),
                            [&](int32_t t) { return t != padId; });
  return static_cast<double>(kept) / static_cast<double>(decoderPasses);
}

Generator::Generator(const CompiledModule &module, KVCache &cache,
                     int64_t maxBatch)
    : module_(module), cache_(cache), executor_(module, cache),
      maxBatch_(std::max<int64_t>(1, maxBatch)),
      pagesInUse_(cache.pools().size(), 0) {
  // On the cuda device, the steps of a block replay one recorded CUDA graph.
  executor_.setRecordedSteps(true);
}

Generator::~Generator() = default;

std::vector<int64_t> pagesNeeded(const std::vector<PoolSpec> &pools, int64_t ps,
                                 int64_t c, const GenerationRequest &request) {
  const int64_t p = static_cast<int64_t>(request.prompt.size());
  const int64_t total = p + request.options.maxCanvases(c) * c;
  auto pages = [&](int64_t tokens) { return (tokens + ps - 1) / ps; };
  std::vector<int64_t> need;
  for (const PoolSpec &pool : pools) {
    if (pool.window == 0) {
      need.push_back(pages(total));
      continue;
    }
    // The prefill holds [0, P + C) until its commit recycles the pages the
    // window left behind; afterwards a request holds at most the bound of
    // KVCache.h with one canvas ahead.
    int64_t steady = pages(pool.window + c + ps - 2);
    need.push_back(std::min(pages(total), std::max(pages(p + c), steady)));
  }
  return need;
}

Status checkRequest(const Manifest &m, const GenerationRequest &request) {
  const int64_t vocab = m.vocabSize;
  if (Status s = checkGenerationGraphs(m); !s)
    return s;
  if (request.prompt.empty())
    return Error{"the prompt is empty"};
  auto outside = [&](const std::string &what, int64_t id) {
    return Error{what + " is " + std::to_string(id) +
                 ", outside the vocabulary [0, " + std::to_string(vocab) + ")"};
  };
  for (size_t i = 0; i < request.prompt.size(); ++i)
    if (request.prompt[i] < 0 || request.prompt[i] >= vocab)
      return outside("prompt token " + std::to_string(i), request.prompt[i]);
  if (Status s = request.options.validate(); !s)
    return s;
  // The sampler writes pad and compares eos: ids the model cannot emit.
  if (request.options.padId < 0 || request.options.padId >= vocab)
    return outside("pad_token_id", request.options.padId);
  for (int32_t id : request.options.eosIds)
    if (id < 0 || id >= vocab)
      return outside("eos_token_id", id);
  // New tokens come a canvas at a time, at the positions after the prompt.
  const int64_t canvas = m.canvasLength, limit = m.maxPositions;
  int64_t canvases = (request.options.maxNewTokens + canvas - 1) / canvas;
  int64_t last =
      static_cast<int64_t>(request.prompt.size()) + canvases * canvas;
  if (limit && last > limit)
    return Error{"a prompt of " + std::to_string(request.prompt.size()) +
                 " tokens and up to " +
                 std::to_string(request.options.maxNewTokens) +
                 " new tokens (" + std::to_string(canvases) + " canvases of " +
                 std::to_string(canvas) + ") reach position " +
                 std::to_string(last) + ", beyond the model's " +
                 std::to_string(limit) + " (max_position_embeddings)"};
  if (!request.images.empty() && !m.vision)
    return Error{"the module has no vision graph for its images"};
  return Status();
}

Result<size_t> Generator::submit(GenerationRequest request) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t index = next_;
  if (stopping_)
    return Error{"request " + std::to_string(index) +
                 ": the generator is stopping"};
  if (Status s = checkRequest(module_.manifest(), request); !s)
    return Error{"request " + std::to_string(index) + ": " + s.error()};
  ++next_;
  submitted_.emplace_back(index, std::move(request));
  live_.insert(index);
  ++load_.waiting;
  wake_.notify_one();
  return index;
}

bool Generator::cancel(size_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!live_.count(index))
    return false;
  cancels_.insert(index);
  wake_.notify_one();
  return true;
}

void Generator::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  wake_.notify_one();
}

GeneratorLoad Generator::load() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return load_;
}

void Generator::publishLoad() {
  std::lock_guard<std::mutex> lock(mutex_);
  load_.running = static_cast<int64_t>(running_.size());
  load_.pagesReserved = pagesInUse_;
  load_.pagesUsed.clear();
  for (size_t pool = 0; pool < cache_.pools().size(); ++pool) {
    int64_t p = static_cast<int64_t>(pool);
    load_.pagesUsed.push_back(*cache_.totalPages(p) - *cache_.freePages(p));
  }
}

void Generator::takeSubmitted(const GenerationEvents &events) {
  std::deque<std::pair<size_t, GenerationRequest>> arrived;
  std::set<size_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    arrived.swap(submitted_);
    cancels.swap(cancels_);
  }
  for (auto &[index, request] : arrived) {
    slots_[index].request = std::move(request);
    waiting_.push_back(index);
  }
  for (size_t index : cancels) {
    if (auto w = std::find(waiting_.begin(), waiting_.end(), index);
        w != waiting_.end()) {
      waiting_.erase(w);
      Running never;
      never.index = index;
      finish(never, "request " + std::to_string(index) + ": cancelled", events,
             /*cancelled=*/true);
      continue;
    }
    for (auto &r : running_)
      if (r->index == index && !r->done)
        finish(*r, "request " + std::to_string(index) + ": cancelled", events,
               /*cancelled=*/true);
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const auto &r) { return r->done; }),
                 running_.end());
}

void Generator::finish(Running &r, const std::string &error,
                       const GenerationEvents &events, bool cancelled) {
  r.done = true;
  GenerationResult &result = slots_.at(r.index).result;
  result.error = error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result.cancelled = cancelled;
    live_.erase(r.index);
    if (r.id < 0 && r.budget.empty())
      --load_.waiting; // it never ran
  }
  finished_.push_back(r.index);
  if (r.id >= 0)
    (void)cache_.release(r.id);
  for (size_t i = 0; i < r.budget.size(); ++i)
    pagesInUse_[i] -= r.budget[i];
  r.budget.clear();
  if (events.onFinished)
    events.onFinished(r.index, result);
}

void Generator::startCanvas(Running &r) {
  const Manifest &m = module_.manifest();
  const GenerationOptions &o = slots_.at(r.index).request.options;
  r.canvas.assign(m.canvasLength, 0);
  r.random->uniformIds(m.vocabSize, r.canvas.data(), m.canvasLength);
  r.k = o.maxDenoisingSteps;
  r.stepInCanvas = 0;
  r.scEnabled = false;
  r.stop = StopCriterion(o.stabilityThreshold, o.confidenceThreshold);
}

bool Generator::admit(const GenerationEvents &events) {
  std::vector<Running *> joined;
  while (!waiting_.empty() &&
         static_cast<int64_t>(running_.size()) < maxBatch_) {
    size_t index = waiting_.front();
    const GenerationRequest &request = slots_.at(index).request;
    std::vector<int64_t> need =
        pagesNeeded(cache_.pools(), cache_.pageSize(),
                    module_.manifest().canvasLength, request);
    bool never = false, notNow = false;
    std::string why;
    for (size_t i = 0; i < need.size(); ++i) {
      int64_t total = *cache_.totalPages(static_cast<int64_t>(i));
      if (need[i] > total && !never) {
        never = true;
        why = "request " + std::to_string(index) + " needs " +
              std::to_string(need[i]) + " pages of KV-cache pool '" +
              cache_.pools()[i].name + "' (a prompt of " +
              std::to_string(request.prompt.size()) + " tokens and up to " +
              std::to_string(request.options.maxNewTokens) +
              " new tokens), but the pool has " + std::to_string(total) +
              ": use a larger cache or fewer new tokens";
      }
      notNow = notNow || pagesInUse_[i] + need[i] > total;
    }
    auto running = std::make_unique<Running>();
    running->index = index;
    if (never) {
      waiting_.erase(waiting_.begin());
      finish(*running, why, events);
      continue;
    }
    if (notNow)
      break; // wait for a running request to leave
    const int64_t c = module_.manifest().canvasLength;
    Result<RequestId> id =
        cache_.admit(static_cast<int64_t>(request.prompt.size()) + c);
    waiting_.erase(waiting_.begin());
    if (!id) {
      finish(*running,
             "request " + std::to_string(index) + ": KV cache: " + id.error(),
             events);
      continue;
    }
    running->id = *id;
    running->budget = need;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --load_.waiting;
    }
    for (size_t i = 0; i < need.size(); ++i)
      pagesInUse_[i] += need[i];
    if (request.random) {
      running->random = request.random.get();
    } else {
      running->seeded = std::make_unique<SeededRandom>(request.seed);
      running->random = running->seeded.get();
    }
    joined.push_back(running.get());
    running_.push_back(std::move(running));
  }
  if (joined.empty())
    return false;
  prefill(joined, events);
  return true;
}

void Generator::prefill(std::vector<Running *> &joined,
                        const GenerationEvents &events) {
  // The vision graph runs first; a request whose images fail leaves alone.
  std::map<Running *, Executor::EncoderImages> rows;
  for (Running *r : joined) {
    const GenerationRequest &request = slots_.at(r->index).request;
    if (request.images.empty())
      continue;
    auto row = encoderImages(module_, request.prompt, request.images);
    if (!row)
      finish(*r, "request " + std::to_string(r->index) + ": " + row.error(),
             events);
    else
      rows[r] = std::move(*row);
  }
  joined.erase(std::remove_if(joined.begin(), joined.end(),
                              [](Running *r) { return r->done; }),
               joined.end());
  // Prompts of equal length share one encoder call.
  std::stable_sort(joined.begin(), joined.end(), [&](Running *a, Running *b) {
    return slots_.at(a->index).request.prompt.size() <
           slots_.at(b->index).request.prompt.size();
  });
  for (size_t first = 0; first < joined.size();) {
    size_t len = slots_.at(joined[first]->index).request.prompt.size(),
           last = first;
    std::vector<RequestId> ids;
    std::vector<int32_t> tokens, positions;
    for (; last < joined.size() &&
           slots_.at(joined[last]->index).request.prompt.size() == len;
         ++last) {
      const auto &prompt = slots_.at(joined[last]->index).request.prompt;
      ids.push_back(joined[last]->id);
      tokens.insert(tokens.end(), prompt.begin(), prompt.end());
      for (size_t i = 0; i < len; ++i)
        positions.push_back(static_cast<int32_t>(i));
    }
    // Images: each request's soft tokens and spans, row by row.
    std::optional<Executor::EncoderImages> images;
    for (size_t i = first; i < last; ++i)
      if (rows.count(joined[i]))
        images.emplace();
    for (size_t i = first; images && i < last; ++i) {
      Executor::EncoderImages &row = rows[joined[i]];
      if (row.mask.empty()) { // no image: the neutral row
        int64_t h = module_.manifest().hiddenSize;
        row.softTokens.assign(len * h, 0.0f);
        row.mask.assign(len, 0.0f);
        row.spans.assign(2 * len, 0);
        for (size_t j = 1; j < row.spans.size(); j += 2)
          row.spans[j] = -1;
      }
      images->softTokens.insert(images->softTokens.end(),
                                row.softTokens.begin(), row.softTokens.end());
      images->mask.insert(images->mask.end(), row.mask.begin(), row.mask.end());
      images->spans.insert(images->spans.end(), row.spans.begin(),
                           row.spans.end());
    }
    auto encoded =
        executor_.encode(ids, tokens, positions, images ? &*images : nullptr);
    ++stats_.encoderCalls;
    for (size_t i = first; i < last; ++i) {
      Running &r = *joined[i];
      if (!encoded) {
        finish(r, "prefill: " + encoded.error(), events);
        continue;
      }
      r.committed = static_cast<int64_t>(len);
      startCanvas(r);
    }
    first = last;
  }
}

namespace {
/// What is wrong with a step's outputs for one canvas, if anything: an
/// entropy that is not finite, or an id outside [0, vocab).
std::string nonFiniteOutputs(const float *entropy,
                             const std::vector<int32_t> &argmax,
                             const std::vector<int32_t> &sample,
                             int64_t vocab) {
  for (size_t i = 0; i < argmax.size(); ++i) {
    if (!std::isfinite(entropy[i]))
      return "the model's outputs are not finite (entropy " +
             std::to_string(entropy[i]) + " at canvas position " +
             std::to_string(i) + "): are the weights finite?";
    for (int32_t id : {argmax[i], sample[i]})
      if (id < 0 || id >= vocab)
        return "the model chose token " + std::to_string(id) +
               " at canvas position " + std::to_string(i) +
               ", outside the vocabulary [0, " + std::to_string(vocab) +
               "): are the weights finite?";
  }
  return "";
}
} // namespace

void Generator::step(const GenerationEvents &events) {
  const Manifest &m = module_.manifest();
  const int64_t c = m.canvasLength, v = m.vocabSize, h = m.hiddenSize;
  const int64_t batch = static_cast<int64_t>(running_.size());
  std::vector<RequestId> ids;
  std::vector<int32_t> canvas;
  std::vector<float> sc(batch * c * h, 0.0f), temps;
  std::vector<uint8_t> scOn;
  // The step draws from the whole vocabulary itself; x stays on the device.
  std::vector<int32_t> seeds(batch * c, 0);
  for (int64_t b = 0; b < batch; ++b) {
    Running &r = *running_[b];
    ids.push_back(r.id);
    canvas.insert(canvas.end(), r.canvas.begin(), r.canvas.end());
    if (r.scEnabled)
      std::memcpy(sc.data() + b * c * h, r.sc.data(), c * h * sizeof(float));
    scOn.push_back(r.scEnabled);
    temps.push_back(temperature(slots_.at(r.index).request.options, r.k));
    if (slots_.at(r.index).request.options.draw == DrawMode::Exact)
      r.random->drawSeeds(seeds.data() + b * c, c);
  }
  auto out = executor_.decode(ids, canvas, sc, scOn, temps, seeds,
                              /*wantLogits=*/false);
  ++stats_.decoderCalls;
  stats_.decoderRows += batch;
  stats_.largestBatch = std::max(stats_.largestBatch, batch);
  if (!out) {
    for (auto &r : running_)
      finish(*r, "denoise step: " + out.error(), events);
    return;
  }

  std::vector<float> soft = out->scSoft.floats();

  std::vector<Running *> committing;
  for (int64_t b = 0; b < batch; ++b) {
    Running &r = *running_[b];
    const GenerationOptions &o = slots_.at(r.index).request.options;
    GenerationResult &result = slots_.at(r.index).result;
    const float *entropy = out->entropy.f32() + b * c;
    r.argmax.assign(out->argmax.i32() + b * c, out->argmax.i32() + (b + 1) * c);
    ++result.decoderPasses;
    ++r.stepInCanvas;

    std::vector<int32_t> sample(c), fresh(c);
    if (o.draw == DrawMode::TopK) {
      int64_t k = out->topkIds.shape.back();
      r.random->sampleTopK(out->topkProbs.f32() + b * c * k,
                           out->topkIds.i32() + b * c * k, c, k, sample.data());
    } else {
      r.random->sampleExact(out->sample.i32() + b * c, c, sample.data());
    }
    // NaN or Inf in the model's outputs (weights gone bad, say) would send
    // ids from outside the vocabulary on as tokens: the request stops here.
    // (DGC_SKIP_OUTPUT_CHECK=1 lets a driver that runs no kernels, the
    // tests' stand-in, carry a run to its end.)
    static const bool skipCheck = [] {
      const char *env = std::getenv("DGC_SKIP_OUTPUT_CHECK");
      return env && *env == '1';
    }();
    if (std::string bad =
            skipCheck ? "" : nonFiniteOutputs(entropy, r.argmax, sample, v);
        !bad.empty()) {
      finish(r,
             "request " + std::to_string(r.index) + ", canvas " +
                 std::to_string(r.canvasIndex) + ", denoise step " +
                 std::to_string(r.stepInCanvas) + ": " + bad,
             events);
      continue;
    }
    std::vector<uint8_t> accepted = acceptByEntropy(entropy, c, o.entropyBound);
    r.random->uniformIds(v, fresh.data(), c);
    bool stop = r.stop.update(r.argmax.data(), entropy, c) || r.k == 1;

    StepReport report;
    report.request = r.index;
    report.canvas = r.canvasIndex;
    report.step = r.stepInCanvas;
    report.k = r.k;
    report.temperature = temperature(o, r.k);
    report.accepted = std::count(accepted.begin(), accepted.end(), 1);
    report.meanEntropy =
        std::accumulate(entropy, entropy + c, 0.0) / static_cast<double>(c);
    report.stopped = stop;
    report.input = &r.canvas;
    report.argmax = &r.argmax;
    if (events.onStep)
      events.onStep(report);

    if (!stop) {
      for (int64_t i = 0; i < c; ++i)
        r.canvas[i] = accepted[i] ? sample[i] : fresh[i];
      r.sc.assign(soft.begin() + b * c * h, soft.begin() + (b + 1) * c * h);
      r.scEnabled = true;
      --r.k;
      continue;
    }
    // The canvas is done: commit its clean argmax.
    std::vector<int32_t> tokens = r.argmax;
    bool eos = finalizeCanvas(tokens, o.eosIds, o.padId);
    result.tokens.insert(result.tokens.end(), tokens.begin(), tokens.end());
    result.stepsPerCanvas.push_back(r.stepInCanvas);
    result.canvases = ++r.canvasIndex;
    result.endedOnEos = eos;
    r.canvas = std::move(tokens);
    if (events.onCanvas)
      events.onCanvas(r.index, r.canvasIndex - 1, r.canvas);
    if (eos || r.canvasIndex == o.maxCanvases(c))
      finish(r, "", events);
    else
      committing.push_back(&r);
  }

  if (!committing.empty()) {
    std::vector<RequestId> cids;
    std::vector<int32_t> tokens, positions;
    for (Running *r : committing) {
      cids.push_back(r->id);
      tokens.insert(tokens.end(), r->canvas.begin(), r->canvas.end());
      for (int64_t i = 0; i < c; ++i)
        positions.push_back(static_cast<int32_t>(r->committed + i));
    }
    auto encoded = executor_.encode(cids, tokens, positions);
    ++stats_.encoderCalls;
    for (Running *r : committing) {
      if (!encoded) {
        finish(*r, "commit: " + encoded.error(), events);
        continue;
      }
      r->committed += c;
      if (Status s = cache_.reserve(r->id, r->committed + c); !s) {
        finish(*r, "KV cache: " + s.error(), events);
        continue;
      }
      startCanvas(*r);
    }
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const auto &r) { return r->done; }),
                 running_.end());
}

void Generator::round(const GenerationEvents &events) {
  takeSubmitted(events);
  admit(events);
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const auto &r) { return r->done; }),
                 running_.end());
  if (!running_.empty())
    step(events);
  publishLoad();
}

std::vector<GenerationResult> Generator::run(const GenerationEvents &events) {
  auto start = std::chrono::steady_clock::now();
  takeSubmitted(events);
  while (!waiting_.empty() || !running_.empty())
    round(events);
  stats_.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  finished_.clear();
  std::vector<GenerationResult> results;
  for (size_t i = 0; i < slots_.size(); ++i)
    results.push_back(slots_.count(i) ? slots_.at(i).result
                                      : GenerationResult());
  return results;
}

void Generator::serve(const GenerationEvents &events) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return !submitted_.empty() || !cancels_.empty() || stopping_ ||
               !waiting_.empty() || !running_.empty();
      });
      if (stopping_ && submitted_.empty() && waiting_.empty() &&
          running_.empty())
        break;
    }
    round(events);
    // onFinished has seen them: a long-running server keeps no history.
    for (size_t index : finished_)
      slots_.erase(index);
    finished_.clear();
  }
  stats_.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
}

} // namespace dgc::runtime
