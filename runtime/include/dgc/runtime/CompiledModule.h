//===- CompiledModule.h - A compiled dgc module, host or cuda ---*- C++ -*-===//
//
// Loads MODEL.dgm (manifest.json + host.so or cuda.so), binds a checkpoint's
// weights to the module's weight arena, and runs its graphs against the paged
// KV cache.
//
//   auto module = CompiledModule::load("tiny.dgm");
//   auto checkpoint = Checkpoint::open("checkpoint/");
//   module->bindWeights(*checkpoint);
//   auto cache = module->createCache(/*pageSize=*/16, /*pages=*/64);
//   Executor run(*module, *cache);
//   run.encode({request}, prompt, positions);
//   auto step = run.decode({request}, canvas, scSoft, scEnabled, temps);
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_COMPILEDMODULE_H
#define DGC_RUNTIME_COMPILEDMODULE_H

#include "dgc/runtime/KVCache.h"
#include "dgc/runtime/Manifest.h"
#include "dgc/runtime/Safetensors.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dgc::runtime {

struct CacheBinding;
struct CallFrame;

/// Where a module's graphs run: on the host CPU (host.so), or on an NVIDIA
/// GPU (cuda.so, its buffers in CUDA managed memory).
enum class Device { Host, Cuda };

/// "host", "cuda" or "cuda:N"; the last also picks GPU N for the process
/// (before its first cuda module loads).
Result<Device> parseDevice(const std::string &name);
const char *deviceName(Device device);

/// Starts (`on`) or stops what a profiler launched with profiling off
/// measures (`ncu --profile-from-start off`; cuProfilerStart and
/// cuProfilerStop), after the work queued before it has finished: so a
/// benchmark profiles one step alone. An error without a CUDA driver.
Status setCudaProfiling(bool on);

/// Checks `directory`/config.json, when there is one, against the config
/// values the module's graphs were built from; a value it states otherwise
/// is an error naming the key and both values.
Status checkCheckpointConfig(const Manifest &manifest,
                             const std::string &directory);

class CompiledModule {
public:
  /// Loads the module's code for `device`; a module compiled without that
  /// target, or a cuda device without a driver or GPU, is a clear error.
  static Result<CompiledModule> load(const std::string &directory,
                                     Device device = Device::Host);
  CompiledModule(CompiledModule &&) noexcept;
  CompiledModule &operator=(CompiledModule &&) noexcept;
  ~CompiledModule();

  const Manifest &manifest() const { return manifest_; }
  Device device() const { return device_; }

  /// Fills the weight arena from `checkpoint`: every tensor the manifest
  /// names must exist with its shape; f32, bf16 and f16 convert to the
  /// arena's type. Errors name the tensor.
  Status bindWeights(const Checkpoint &checkpoint);
  /// Fills the weight arena with uniform values in [-scale, scale] from
  /// `seed` (on every core): a model's cost without its checkpoint, for
  /// benchmarks. Outputs are meaningless.
  Status bindRandomWeights(uint64_t seed, float scale = 0.03f);

  /// The module's KV-cache pools.
  std::vector<PoolSpec> poolSpecs() const;
  /// A KV cache with the module's pools.
  Result<KVCache> createCache(int64_t pageSize, int64_t pagesPerPool) const;
  /// A KV cache with `pagesPerPool[i]` pages in pool i.
  Result<KVCache> createCache(int64_t pageSize,
                              std::vector<int64_t> pagesPerPool) const;

  /// One argument of a graph call: a contiguous tensor, or a cache pool.
  struct Arg {
    const void *data = nullptr;
    std::vector<int64_t> shape;
    void *cache = nullptr; // a prepared CacheBinding for kv_cache inputs
  };
  /// One result: contiguous bytes of the output's dtype.
  struct Output {
    std::vector<uint8_t> bytes;
    std::vector<int64_t> shape;
    DType dtype;
    const float *f32() const {
      return reinterpret_cast<const float *>(bytes.data());
    }
    const int32_t *i32() const {
      return reinterpret_cast<const int32_t *>(bytes.data());
    }
    /// The values widened to float (f32 or bf16 outputs).
    std::vector<float> floats() const;
  };
  /// Calls `graph` with the inputs after the weight arena, in manifest order.
  /// `graphSeconds`, when given, receives the wall time of the compiled graph
  /// alone (on cuda its launches and its closing wait), without the copies
  /// of the inputs and outputs: what a kernel benchmark reports. Outputs
  /// whose bit is set in `skippedOutputs` (bit i: output i) come back with
  /// their shape and no bytes, not copied off the device.
  Result<std::vector<Output>> call(const std::string &graph,
                                   const std::vector<Arg> &inputs,
                                   double *graphSeconds = nullptr,
                                   uint64_t skippedOutputs = 0) const;

  /// As call(), but on the cuda device the second call of `graph` with the
  /// same input shapes (and page-table sizes) records its kernels as a CUDA
  /// graph, and later calls with those shapes replay it: one launch, with
  /// the host code run once. New shapes start over. Elsewhere, or on a
  /// driver that cannot record graphs, it is call().
  Result<std::vector<Output>> callRecorded(const std::string &graph,
                                           const std::vector<Arg> &inputs,
                                           double *graphSeconds = nullptr,
                                           uint64_t skippedOutputs = 0) const;

  /// The bound bytes of weight `w`, copied out of the arena (which on the
  /// cuda device may be device memory).
  Result<std::vector<uint8_t>> readWeight(const WeightSpec &w) const;
  /// Whether the module's buffers live in device memory on the cuda device
  /// (the manifest's targets.cuda.device_memory), copied to and from
  /// explicitly; else managed memory, or host memory on the host.
  bool deviceMemory() const { return deviceMemory_; }

private:
  CompiledModule() = default;
  /// Copies `data` (`bytes`) where kernels can read it; null: leave it.
  using PlaceFn = std::function<Result<void *>(const void *data, size_t bytes,
                                               const std::string &what)>;
  /// Checks `inputs` against the graph and builds its arguments.
  Result<CallFrame> prepareFrame(const std::string &graph,
                                 const std::vector<Arg> &inputs,
                                 const PlaceFn &place) const;
  /// The error cells the graph wrote, back into each binding's table.
  Status copyTablesBack(const CallFrame &frame,
                        const std::vector<Arg> &inputs) const;
  /// Copies between the host and memory the module's kernels read.
  Status copyModuleMemory(void *dst, const void *src, size_t bytes,
                          bool toModule) const;
  Status toModuleMemory(void *dst, const void *src, size_t bytes) const {
    return copyModuleMemory(dst, src, bytes, /*toModule=*/true);
  }
  Status fromModuleMemory(void *dst, const void *src, size_t bytes) const {
    return copyModuleMemory(dst, src, bytes, /*toModule=*/false);
  }
  /// Writes weight `w` with `fill`: in place, or through a host buffer
  /// uploaded after when the arena is device memory.
  Status writeWeight(const WeightSpec &w,
                     const std::function<Status(uint8_t *)> &fill);
  Result<std::vector<Output>> collectOutputs(const std::string &graph,
                                             const CallFrame &frame,
                                             bool freeResults,
                                             uint64_t skippedOutputs) const;
  struct Recorded;
  /// Per graph, its recording (callRecorded).
  mutable std::map<std::string, std::unique_ptr<Recorded>> recordings_;
  /// Whether `binding` is a prepared binding of the module's pool `name`.
  Status checkPool(const std::string &name, const CacheBinding &binding) const;
  /// On the cuda device, moves the bound weights to GPU memory now rather
  /// than page by page on the first kernels that read them.
  Status placeArenaOnDevice() const;
  Manifest manifest_;
  void *library_ = nullptr;
  std::map<std::string, void *> entries_; // graph name -> C entry point
  std::vector<uint8_t> arenaStorage_;
  uint8_t *arena_ = nullptr;
  bool weightsBound_ = false;
  Device device_ = Device::Host;
  void *deviceArena_ = nullptr; // the arena on the cuda device
  bool deviceMemory_ = false;
  std::vector<uint8_t> staging_; // a weight on its way to device memory
};

/// Runs the encoder and decoder graphs for batches of requests.
class Executor {
public:
  Executor(const CompiledModule &module, KVCache &cache)
      : module_(module), cache_(cache) {}

  /// What a batch's images add to an encoder pass: soft tokens [B, T, H]
  /// (the vision graph's, where `mask` [B, T] is 1; they replace the token
  /// embeddings there) and each token's image span [B, T, 2] (first and
  /// last position of its image; [0, -1] outside images).
  struct EncoderImages {
    std::vector<float> softTokens, mask;
    std::vector<int32_t> spans;
  };
  /// Causal pass over `tokens` [B, T] at `positions` [B, T]: writes their K/V
  /// and commits each request up to its last position. Returns the final
  /// hidden states [B, T, H].
  Result<CompiledModule::Output> encode(const std::vector<RequestId> &requests,
                                        const std::vector<int32_t> &tokens,
                                        const std::vector<int32_t> &positions,
                                        const EncoderImages *images = nullptr);

  /// The decoder's outputs (docs/graphs.md): x = softcapped logits over
  /// the temperature [B, C, V] in the compute type, its statistics, and the
  /// soft embedding [B, C, H] the next step conditions on.
  struct Step {
    CompiledModule::Output scaledLogits, argmax, topkProbs, topkIds, entropy,
        sample, scSoft;
  };
  /// One denoise step over one canvas per request, at each request's
  /// committed length. `scSoft` [B, C, H] (the previous step's
  /// Step::scSoft) is read only where `scEnabled`. Step::sample is each
  /// position's draw from softmax(x) over the whole vocabulary, decided by
  /// its entry of `drawSeeds` [B, C] (empty: all 0). Without `wantLogits`,
  /// Step::scaledLogits comes back empty: the vocabulary-wide x is not
  /// copied to the host, which needs it for nothing but inspection.
  Result<Step> decode(const std::vector<RequestId> &requests,
                      const std::vector<int32_t> &canvas,
                      const std::vector<float> &scSoft,
                      const std::vector<uint8_t> &scEnabled,
                      const std::vector<float> &temperatures,
                      const std::vector<int32_t> &drawSeeds = {},
                      bool wantLogits = true);

  /// Denoise steps through CompiledModule::callRecorded: on the cuda device,
  /// from the second step of a block on, one CUDA graph launch per step.
  /// Should a recording or replay fail, that step and the later ones are
  /// launched instead, and recordingProblem() says why.
  void setRecordedSteps(bool on) { recordedSteps_ = on; }
  /// A debugging aid: every f32/bf16 output of every graph call is checked,
  /// the vocabulary-wide logits included, and the first that holds a NaN or
  /// an infinity fails the call, named with the element.
  void setCheckFinite(bool on) { checkFinite_ = on; }
  const std::string &recordingProblem() const { return recordingProblem_; }
  /// Seconds the last graph call's compiled code took, without the copies
  /// of its inputs and outputs (CompiledModule::call's `graphSeconds`).
  double lastGraphSeconds() const { return graphSeconds_; }

private:
  Result<std::vector<CompiledModule::Output>>
  run(const std::string &graph, std::vector<CompiledModule::Arg> tensors,
      const std::vector<RequestId> &requests, uint64_t skippedOutputs = 0);
  bool recordedSteps_ = false, checkFinite_ = false;
  std::string recordingProblem_;
  double graphSeconds_ = 0;

  const CompiledModule &module_;
  KVCache &cache_;
};

} // namespace dgc::runtime

#endif // DGC_RUNTIME_COMPILEDMODULE_H
