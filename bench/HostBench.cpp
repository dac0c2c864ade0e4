//===- HostBench.cpp - Times a compiled module's prefill and denoise step -===//
//
//   dgc-bench MODEL.dgm CHECKPOINT_DIR PROMPT RUNS
//
// One prefill of PROMPT tokens and one denoise step (self-conditioning on),
// median of RUNS each after a warm-up; prints one JSON line. Random token
// ids: the cost does not depend on them.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/HostModule.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>

using namespace dgc::runtime;

static double medianMs(int runs, const std::function<bool()> &fn) {
  fn();
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

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: dgc-bench MODEL.dgm CHECKPOINT_DIR PROMPT RUNS\n");
    return 2;
  }
  int prompt = std::atoi(argv[3]), runs = std::atoi(argv[4]);
  auto module = HostModule::load(argv[1]);
  if (!module) {
    std::fprintf(stderr, "dgc-bench: %s\n", module.error().c_str());
    return 1;
  }
  auto checkpoint = Checkpoint::open(argv[2]);
  if (!checkpoint) {
    std::fprintf(stderr, "dgc-bench: %s\n", checkpoint.error().c_str());
    return 1;
  }
  if (Status s = module->bindWeights(*checkpoint); !s) {
    std::fprintf(stderr, "dgc-bench: %s\n", s.error().c_str());
    return 1;
  }
  const Manifest &m = module->manifest();
  int64_t c = m.canvasLength, v = m.vocabSize;
  int64_t pages = (prompt + c + 63) / 16 + 4;
  auto cache = module->createCache(16, 2 * pages);
  if (!cache) {
    std::fprintf(stderr, "dgc-bench: %s\n", cache.error().c_str());
    return 1;
  }
  std::mt19937 rng(0);
  std::uniform_int_distribution<int32_t> ids(3, static_cast<int32_t>(v) - 8);
  std::vector<int32_t> tokens(prompt), positions(prompt), canvas(c);
  for (int i = 0; i < prompt; ++i) {
    tokens[i] = ids(rng);
    positions[i] = i;
  }
  for (auto &t : canvas)
    t = ids(rng);
  std::normal_distribution<float> normal;
  std::vector<float> sc(c * v);
  for (float &x : sc)
    x = normal(rng);

  std::string error;
  auto prefill = [&] {
    auto id = cache->admit(prompt + c);
    if (!id) {
      error = id.error();
      return false;
    }
    Executor run(*module, *cache);
    auto out = run.encode({*id}, tokens, positions);
    if (!out)
      error = out.error();
    (void)cache->release(*id);
    return static_cast<bool>(out);
  };
  double prefillMs = medianMs(runs, prefill);
  auto id = cache->admit(prompt + c);
  Executor run(*module, *cache);
  if (!id || !run.encode({*id}, tokens, positions)) {
    std::fprintf(stderr, "dgc-bench: prefill failed\n");
    return 1;
  }
  auto step = [&] {
    auto out = run.decode({*id}, canvas, sc, {1}, {0.8f});
    if (!out)
      error = out.error();
    return static_cast<bool>(out);
  };
  double stepMs = medianMs(runs, step);
  if (!error.empty()) {
    std::fprintf(stderr, "dgc-bench: %s\n", error.c_str());
    return 1;
  }
  std::printf("{\"prefill_ms\": %.3f, \"step_ms\": %.3f, \"threads\": 1}\n",
              prefillMs, stepMs);
  return 0;
}
