//===- Generator.h - Block-diffusion generation for many requests -*- C++ -*-=//
//
// Runs the reference sampler (Sampler.h) for a queue of requests over a
// compiled module: each request's prompt is prefilled into the paged KV cache,
// then its canvases are denoised and committed one after another. The canvases
// of all running requests go through one decoder pass per step (each at its
// own committed length), while each request keeps its own step counter,
// temperature, random source and stop state, so a request gives the same
// tokens alone or in a batch. A request that finishes leaves the batch and the
// next waiting one joins.
//
// Admission reserves, per cache pool, the most pages the request can ever
// hold (the prompt, every canvas it may generate, less what sliding pools
// recycle); a request waits while the cache is full and fails with a message
// only if it could never fit. Running requests are never evicted.
//
//   Generator generator(module, cache, /*maxBatch=*/4);
//   generator.submit({prompt, options, /*seed=*/7});
//   std::vector<GenerationResult> results = generator.run(events);
//
// A server keeps one Generator going: serve() runs on one thread while
// others submit() and cancel(); a request submitted meanwhile joins the batch
// before the next denoise step, and stop() lets serve() return once every
// request it accepted has finished.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_GENERATOR_H
#define DGC_RUNTIME_GENERATOR_H

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/ImageProcessor.h"
#include "dgc/runtime/Sampler.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace dgc::runtime {

struct GenerationRequest {
  /// Token ids; each image is boi, its soft tokens' image ids, eoi
  /// (expandImageTokens).
  std::vector<int32_t> prompt;
  /// The prompt's images, in order (loadPromptImage).
  std::vector<ProcessedImage> images;
  GenerationOptions options;
  uint64_t seed = 0;
  /// Replaces the source seeded with `seed` (tests replay recorded draws).
  std::shared_ptr<RandomSource> random;
};

struct GenerationResult {
  /// The committed canvases, whole, with pad after the first eos.
  std::vector<int32_t> tokens;
  int64_t canvases = 0;
  /// Decoder passes this request took part in.
  int64_t decoderPasses = 0;
  std::vector<int64_t> stepsPerCanvas;
  bool endedOnEos = false;
  /// Why the request failed; empty when it did not.
  std::string error;
  /// Ended by cancel() (`error` says so too).
  bool cancelled = false;
  /// Non-pad tokens per decoder pass: the metric transformers reports.
  double tokensPerForward(int32_t padId) const;
};

/// What one denoise step of one request did.
struct StepReport {
  size_t request = 0;
  int64_t canvas = 0; // 0-based
  int64_t step = 0;   // 1-based within the canvas
  int64_t k = 0;      // N, N-1, ... as the temperature schedule counts
  float temperature = 0;
  int64_t accepted = 0;
  double meanEntropy = 0;
  bool stopped = false; // the canvas's denoising ends with this step
  const std::vector<int32_t> *input = nullptr; // canvas fed to the decoder
  const std::vector<int32_t> *argmax = nullptr;
};

struct GenerationEvents {
  std::function<void(const StepReport &)> onStep;
  /// A canvas was committed (after eos padding).
  std::function<void(size_t request, int64_t canvas,
                     const std::vector<int32_t> &tokens)>
      onCanvas;
  std::function<void(size_t request, const GenerationResult &)> onFinished;
};

struct GenerationStats {
  int64_t decoderCalls = 0; // batched decoder graph calls
  int64_t decoderRows = 0;  // canvases denoised over all calls
  int64_t encoderCalls = 0;
  int64_t largestBatch = 0;
  double seconds = 0;
};

/// Pages of each pool a request may hold at once, at most: the prompt, every
/// canvas it may generate, less what sliding pools recycle.
std::vector<int64_t> pagesNeeded(const std::vector<PoolSpec> &pools,
                                 int64_t pageSize, int64_t canvasLength,
                                 const GenerationRequest &request);

/// Whether `request` can run on the module of `manifest` (the prompt's ids
/// and length, the options, images); Generator::submit checks the same.
Status checkRequest(const Manifest &manifest, const GenerationRequest &request);

/// What a serving Generator holds now (Generator::load).
struct GeneratorLoad {
  int64_t waiting = 0; // submitted, not yet in the batch
  int64_t running = 0;
  std::vector<int64_t> pagesReserved; // admission's budget, per pool
  std::vector<int64_t> pagesUsed;     // pages the cache has handed out
};

class Generator {
public:
  Generator(const CompiledModule &module, KVCache &cache, int64_t maxBatch);
  ~Generator();

  /// Queues `request` and returns its index, or says why it is invalid
  /// (empty prompt, ids outside the vocabulary, bad options, a stopped
  /// generator). Thread-safe, also while run() or serve() runs.
  Result<size_t> submit(GenerationRequest request);
  /// Ends request `index` before its next denoise step and frees its KV
  /// pages; onFinished reports it with `cancelled` set. False when it has
  /// already finished (or never was). Thread-safe.
  bool cancel(size_t index);
  /// Runs every queued request to its end; results by index. A request that
  /// cannot be served carries its error; the others are unaffected.
  std::vector<GenerationResult> run(const GenerationEvents &events = {});
  /// Runs requests as they are submitted, idle while there are none, until
  /// stop(); then finishes those already accepted and returns. A finished
  /// request's prompt and result are dropped once onFinished has seen them.
  void serve(const GenerationEvents &events);
  /// Makes serve() return once the accepted requests finish, and submit()
  /// refuse new ones. Thread-safe.
  void stop();
  /// Thread-safe; the batch and cache as of the last step.
  GeneratorLoad load() const;
  /// The generation thread's figures: read them once run() has returned.
  const GenerationStats &stats() const { return stats_; }
  /// Why denoise steps stopped replaying a recorded CUDA graph (and were
  /// launched instead); empty if they did not.
  /// Executor::setCheckFinite for every graph call of the run.
  void setCheckFinite(bool on) { executor_.setCheckFinite(on); }
  const std::string &recordingProblem() const {
    return executor_.recordingProblem();
  }

private:
  struct Running;
  struct Slot {
    GenerationRequest request;
    GenerationResult result;
  };
  /// Moves submitted requests into the queue and applies cancellations.
  void takeSubmitted(const GenerationEvents &events);
  /// One round: admit, then one denoise step of the batch.
  void round(const GenerationEvents &events);
  void publishLoad();
  bool admit(const GenerationEvents &events);
  void prefill(std::vector<Running *> &joined, const GenerationEvents &events);
  void step(const GenerationEvents &events);
  void finish(Running &r, const std::string &error,
              const GenerationEvents &events, bool cancelled = false);
  void startCanvas(Running &r);

  const CompiledModule &module_;
  KVCache &cache_;
  Executor executor_;
  int64_t maxBatch_;
  // Owned by the thread in run() or serve().
  std::unordered_map<size_t, Slot> slots_;
  std::vector<size_t> waiting_;
  std::vector<std::unique_ptr<Running>> running_;
  std::vector<int64_t> pagesInUse_; // budget of running requests, per pool
  std::vector<size_t> finished_;    // since the last round
  GenerationStats stats_;

  // Shared with the threads that submit, cancel and stop.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<size_t, GenerationRequest>> submitted_;
  std::set<size_t> live_; // submitted and not finished
  std::set<size_t> cancels_;
  size_t next_ = 0;
  bool stopping_ = false;
  GeneratorLoad load_;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_GENERATOR_H
