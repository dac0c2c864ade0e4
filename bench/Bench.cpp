//===- Bench.cpp - Times a compiled module's prefill and denoise step -----===//
//
//   dgc-bench MODEL.dgm (--weights DIR | --random-weights) [--device D]
//             [--prompt N] [--context N] [--batch B[,B...]] [--runs R]
//             [--threads N] [--cuda-graph] [--copy-logits]
//
// --prompt N times one prefill of N tokens and then steps after it (the
// encoder graph runs). --context N instead fills N committed positions of
// every layer's cache with random K/V rows and steps after them, so the
// decoder graph alone suffices (a module compiled with --graphs=decoder).
// Each timing is the median of R runs after a warm-up: step_ms the whole
// call, graph_ms its compiled graph alone, without copying the inputs to
// GPU-reachable memory and the outputs back. As in generation, a step's
// [canvas, vocabulary] x stays where the step wrote it (the step draws
// from it itself); --copy-logits copies it back too, which a host-side
// draw would need. One JSON line per batch size, and with
// --cuda-graph a second one for steps replayed as the CUDA graph the first
// steps record (CompiledModule::callRecorded). Token ids and weights are
// random: the cost does not depend on them.
//
//===----------------------------------------------------------------------===//

#include "tools/BenchArguments.h"

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/HostThreads.h"
#include "tools/RuntimeToolMain.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <string_view>

using namespace dgc::runtime;

namespace {

struct Options {
  std::string module, weights;
  bool randomWeights = false;
  Device device = Device::Host;
  int64_t prompt = 0, context = 0;
  std::vector<int64_t> batches = {1};
  int runs = 5;
  int64_t threads = 0; // 0: one per core
  bool cudaGraph = false;
  bool copyLogits = false; // x [B, C, V] to the host each step
  bool profileStep = false;
};

const char kUsage[] =
    "usage: dgc-bench MODEL.dgm (--weights DIR | --random-weights)\n"
    "                 [--device host|cuda] [--prompt N | --context N]\n"
    "                 [--batch B[,B...]] [--runs R] [--threads N]\n"
    "  --prompt N   time a prefill of N tokens, then denoise steps after it\n"
    "  --context N  denoise steps after N committed positions of random K/V\n"
    "               (no encoder pass; default 0)\n"
    "  --batch      canvases per step, one JSON line each (default 1)\n"
    "  --runs R     timed runs after a warm-up; the median is printed "
    "(default 5)\n"
    "  --threads N  threads of the host code's parallel loops (default: one "
    "per core)\n"
    "  --cuda-graph also time steps replayed as the CUDA graph the first "
    "ones\n"
    "               record (cuda only; a second line per batch)\n"
    "  --copy-logits also copy each step's x [batch, canvas, vocab] to the "
    "host\n"
    "  --profile-step before the first batch's timed steps, run one step "
    "alone\n"
    "               inside the CUDA profiler's bracket (cuda only; for\n"
    "               ncu --profile-from-start off)\n";

/// Parses argv; an empty string means success, otherwise the error.
std::string parseOptions(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char * {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    if (arg == "--help" || arg == "-h")
      return "help";
    if (arg == "--cuda-graph") {
      o.cudaGraph = true;
    } else if (arg == "--profile-step") {
      o.profileStep = true;
    } else if (arg == "--copy-logits") {
      o.copyLogits = true;
    } else if (arg == "--random-weights") {
      o.randomWeights = true;
    } else if (arg == "--weights") {
      const char *v = value();
      if (!v)
        return "--weights needs a checkpoint directory";
      o.weights = v;
    } else if (arg == "--device") {
      const char *v = value();
      Result<Device> d = parseDevice(v ? v : "");
      if (!d)
        return d.error();
      o.device = *d;
    } else if (arg == "--threads") {
      const char *v = value();
      if (!v || !dgc::bench::parseDecimal<int64_t>(v, 1, 1024, o.threads))
        return dgc::bench::numberError(arg, 1, 1024, v);
    } else if (arg == "--prompt" || arg == "--context" || arg == "--runs") {
      const char *v = value();
      int64_t n;
      // Positions are int32 in the graphs; a run takes time.
      int64_t lo = arg == "--runs" ? 1 : 0,
              hi = arg == "--runs" ? 100000 : (int64_t(1) << 24);
      if (!v || !dgc::bench::parseDecimal<int64_t>(v, lo, hi, n))
        return dgc::bench::numberError(arg, lo, hi, v);
      (arg == "--prompt" ? o.prompt : arg == "--context" ? o.context : n) = n;
      if (arg == "--runs")
        o.runs = static_cast<int>(n);
    } else if (arg == "--batch") {
      const char *v = value();
      o.batches.clear();
      std::string list = v ? v : "";
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = std::min(list.find(',', start), list.size());
        int64_t b;
        if (!dgc::bench::parseDecimal<int64_t>(
                std::string_view(list).substr(start, comma - start), 1, 4096,
                b))
          return "--batch needs sizes in [1, 4096], comma separated (got '" +
                 list + "')";
        o.batches.push_back(b);
        start = comma + 1;
      }
    } else if (std::string error =
                   dgc::bench::takeModuleArgument(arg, o.module);
               !error.empty()) {
      return error;
    }
  }
  if (o.module.empty())
    return "no MODEL.dgm given";
  if (o.randomWeights == !o.weights.empty())
    return "give one of --weights DIR and --random-weights";
  if (o.prompt && o.context)
    return "--prompt and --context exclude each other";
  if (o.cudaGraph && o.device != Device::Cuda)
    return "--cuda-graph needs --device cuda";
  if (o.profileStep && o.device != Device::Cuda)
    return "--profile-step needs --device cuda";
  return "";
}

double medianMs(int runs, const std::function<bool()> &fn) {
  if (!fn())
    return -1;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (!fn())
      return -1;
    times.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// Writes `context` committed positions of random rows into every layer of
/// every pool, a chunk at a time so that sliding pools recycle as they would
/// after a prefill.
Status fillContext(KVCache &cache, RequestId id, int64_t context,
                   std::mt19937 &rng) {
  const int64_t chunk = 256;
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> rows;
  std::vector<int32_t> positions(chunk);
  for (int64_t first = 0; first < context; first += chunk) {
    int64_t count = std::min(chunk, context - first);
    for (int64_t i = 0; i < count; ++i)
      positions[i] = static_cast<int32_t>(first + i);
    for (size_t p = 0; p < cache.pools().size(); ++p) {
      const PoolSpec &spec = cache.pools()[p];
      // Small bf16/f32 values: random bytes with the exponent kept low.
      rows.resize(count * spec.rowBytes());
      for (size_t b = 0; b < rows.size(); ++b)
        rows[b] = (b % 2 && spec.elementBytes == 2) || b % 4 == 3
                      ? static_cast<uint8_t>(0x3c)
                      : static_cast<uint8_t>(byte(rng));
      for (int64_t layer = 0; layer < spec.numLayers; ++layer)
        if (Status s = cache.write(id, static_cast<int64_t>(p), layer,
                                   positions.data(), count, rows.data(),
                                   rows.data(), WriteMode::Commit);
            !s)
          return s;
    }
    if (Status s = cache.commit(id, first + count); !s)
      return s;
  }
  return Status();
}

int fail(const std::string &message) {
  std::fprintf(stderr, "dgc-bench: %s\n", message.c_str());
  return 1;
}

} // namespace

static int runTool(int argc, char **argv) {
  Options o;
  if (std::string error = parseOptions(argc, argv, o); !error.empty()) {
    if (error == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "dgc-bench: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto secondsSince = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  Clock::time_point started = Clock::now();
  setHostThreads(unsigned(o.threads));
  auto module = CompiledModule::load(o.module, o.device);
  if (!module)
    return fail(module.error());
  // Loading a cuda module compiles its kernels' PTX (the driver's JIT).
  double loadSeconds = secondsSince(started);
  const Manifest &m = module->manifest();
  std::fprintf(stderr,
               "dgc-bench: module loaded in %.1f s; binding %.3g GB of "
               "weights...\n",
               loadSeconds, m.weightBytes / 1e9);
  started = Clock::now();
  if (o.randomWeights) {
    if (Status s = module->bindRandomWeights(/*seed=*/0); !s)
      return fail(s.error());
  } else {
    auto checkpoint = Checkpoint::open(o.weights);
    if (!checkpoint)
      return fail(checkpoint.error());
    if (Status s = module->bindWeights(*checkpoint); !s)
      return fail(s.error());
  }
  double bindSeconds = secondsSince(started);
  std::fprintf(stderr, "dgc-bench: weights bound in %.1f s\n", bindSeconds);
  int64_t c = m.canvasLength, v = m.vocabSize, h = m.hiddenSize;
  int64_t maxBatch = *std::max_element(o.batches.begin(), o.batches.end());
  int64_t context = std::max(o.prompt, o.context);
  const int64_t pageSize = 16;
  std::vector<int64_t> pages;
  for (const PoolSpec &p : module->poolSpecs()) {
    int64_t span = p.window ? std::min(context, p.window + 256) : context;
    int64_t perRequest = (span + 2 * c + 256) / pageSize + 2;
    // A request is admitted with pages for its whole context in every pool;
    // a sliding pool gives back those below its window once the context is
    // committed. So one request at a time needs the whole span.
    int64_t admission = (context + c) / pageSize + 2;
    pages.push_back((maxBatch - 1) * perRequest +
                    std::max(perRequest, admission));
  }
  auto cache = module->createCache(pageSize, pages);
  if (!cache)
    return fail(cache.error());

  std::mt19937 rng(0);
  std::uniform_int_distribution<int32_t> ids(3, static_cast<int32_t>(v) - 8);
  std::vector<int32_t> prompt(o.prompt), positions(o.prompt);
  for (int64_t i = 0; i < o.prompt; ++i) {
    prompt[i] = ids(rng);
    positions[i] = static_cast<int32_t>(i);
  }
  std::string error;
  double prefillMs = -1;
  if (o.prompt) {
    prefillMs = medianMs(o.runs, [&] {
      auto id = cache->admit(o.prompt + c);
      if (!id) {
        error = id.error();
        return false;
      }
      Executor run(*module, *cache);
      auto out = run.encode({*id}, prompt, positions);
      if (!out)
        error = out.error();
      (void)cache->release(*id);
      return static_cast<bool>(out);
    });
    if (prefillMs < 0)
      return fail("prefill: " + error);
  }

  std::normal_distribution<float> normal;
  for (int64_t batch : o.batches) {
    std::fprintf(stderr, "dgc-bench: batch %lld\n",
                 static_cast<long long>(batch));
    std::vector<RequestId> requests;
    for (int64_t b = 0; b < batch; ++b) {
      auto id = cache->admit(context + c);
      if (!id)
        return fail(id.error());
      requests.push_back(*id);
      if (o.prompt) {
        Executor run(*module, *cache);
        if (auto out = run.encode({*id}, prompt, positions); !out)
          return fail("prefill: " + out.error());
      } else if (Status s = fillContext(*cache, *id, o.context, rng); !s) {
        return fail("filling the context: " + s.error());
      }
    }
    std::vector<int32_t> canvas(batch * c);
    for (int32_t &t : canvas)
      t = ids(rng);
    std::vector<float> sc(static_cast<size_t>(batch * c * h));
    for (float &x : sc)
      x = normal(rng);
    std::vector<int32_t> seeds(batch * c);
    for (int32_t &s : seeds)
      s = static_cast<int32_t>(rng());
    Executor run(*module, *cache);
    std::vector<uint8_t> enabled(batch, 1);
    std::vector<float> temperatures(batch, 0.8f);
    char prefill[32] = "null";
    if (prefillMs >= 0)
      std::snprintf(prefill, sizeof prefill, "%.3f", prefillMs);
    // One launched step alone in the profiler's bracket, after a warm-up
    // that loads the kernels.
    if (o.profileStep && batch == o.batches.front()) {
      auto step = [&]() -> Status {
        auto out = run.decode(requests, canvas, sc, enabled, temperatures,
                              seeds, o.copyLogits);
        return out ? Status() : Status(Error{"denoise step: " + out.error()});
      };
      auto profiling = [&](bool on) -> Status {
        Status s = setCudaProfiling(on);
        return s ? s : Status(Error{"--profile-step: " + s.error()});
      };
      Status s = step();
      if (s)
        s = profiling(true);
      if (s)
        s = step();
      if (s)
        s = profiling(false);
      if (!s)
        return fail(s.error());
    }
    // Launched steps, then (--cuda-graph) replayed ones: one line each.
    for (bool replayed : {false, true}) {
      if (replayed && !o.cudaGraph)
        break;
      run.setRecordedSteps(replayed);
      if (replayed) {
        // The first step runs plainly, the second records: time replays.
        auto out = run.decode(requests, canvas, sc, enabled, temperatures,
                              seeds, o.copyLogits);
        if (!out)
          return fail("denoise step: " + out.error());
      }
      std::vector<double> graphMs;
      double stepMs = medianMs(o.runs, [&] {
        auto out = run.decode(requests, canvas, sc, enabled, temperatures,
                              seeds, o.copyLogits);
        if (!out)
          error = out.error();
        graphMs.push_back(run.lastGraphSeconds() * 1e3);
        return static_cast<bool>(out);
      });
      // Without the warm-up: the compiled step alone, inputs and outputs
      // already where the kernels read and write them.
      graphMs.erase(graphMs.begin());
      std::sort(graphMs.begin(), graphMs.end());
      if (stepMs < 0)
        return fail("denoise step" +
                    std::string(replayed ? " (CUDA graph)" : "") + ": " +
                    error);
      std::printf("{\"device\": \"%s\", \"batch\": %lld, \"context\": %lld, "
                  "\"canvas\": %lld, \"step_ms\": %.3f, \"graph_ms\": %.3f, "
                  "\"prefill_ms\": %s, "
                  "\"weight_bytes\": %lld, \"kv_bytes_per_token\": %lld, "
                  "\"runs\": %d, \"cuda_graph\": %s, \"copy_logits\": %s, "
                  "\"load_s\": %.2f, \"bind_s\": %.2f}\n",
                  deviceName(o.device), static_cast<long long>(batch),
                  static_cast<long long>(context), static_cast<long long>(c),
                  stepMs, graphMs[graphMs.size() / 2], prefill,
                  static_cast<long long>(m.weightBytes),
                  static_cast<long long>(cache->bytesPerToken()), o.runs,
                  replayed ? "true" : "false", o.copyLogits ? "true" : "false",
                  loadSeconds, bindSeconds);
      std::fflush(stdout);
    }
    for (RequestId id : requests)
      (void)cache->release(id);
  }
  return 0;
}

int main(int argc, char **argv) {
  return dgc::runtimeToolMain("dgc-bench", argc, argv, runTool);
}
