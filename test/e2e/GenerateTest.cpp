//===- GenerateTest.cpp - Whole generations against transformers ----------===//
//
// test/fixtures/tiny/sampler.json recorded transformers' `generate()` on the
// tiny fixture model with every random draw it made. Replaying those draws
// through the compiled module and the runtime's Generator must feed the
// decoder the same canvas at every pass and commit the same sequence. Then:
// batched and solo generation give the same tokens, and admission fails
// clearly without disturbing running requests.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Generator.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

const std::string kFixtures = testPath(DGC_TINY_FIXTURES);

const json &recorded() {
  static const json doc = [] {
    std::ifstream in(kFixtures + "/sampler.json");
    return json::parse(in);
  }();
  return doc;
}

/// Hands out transformers' recorded draws in order, and notes any draw of
/// the wrong kind or size (a different order of random calls).
class RecordedRandom final : public RandomSource {
public:
  explicit RecordedRandom(const json &draws) {
    for (const json &d : draws)
      queue.push_back({d["kind"], d["values"].get<std::vector<int32_t>>()});
  }
  void uniformIds(int64_t, int32_t *out, int64_t count) override {
    take("uniform", out, count);
  }
  void drawSeeds(int32_t *out, int64_t count) override {
    std::fill(out, out + count, 0); // the recorded samples replace the draws
  }
  void sampleExact(const int32_t *, int64_t rows, int32_t *out) override {
    take("sample", out, rows);
  }
  void sampleTopK(const float *, const int32_t *, int64_t rows, int64_t,
                  int32_t *out) override {
    take("sample", out, rows);
  }
  size_t left() const { return queue.size(); }
  std::string problem;

private:
  void take(const std::string &kind, int32_t *out, int64_t count) {
    if (queue.empty() || queue.front().first != kind ||
        static_cast<int64_t>(queue.front().second.size()) != count) {
      if (problem.empty())
        problem = "draw " + std::to_string(taken) + ": asked for " +
                  std::to_string(count) + " " + kind + " values, recorded " +
                  (queue.empty() ? "nothing"
                                 : std::to_string(queue.front().second.size()) +
                                       " " + queue.front().first);
      std::fill(out, out + count, 0);
      return;
    }
    std::copy(queue.front().second.begin(), queue.front().second.end(), out);
    queue.pop_front();
    ++taken;
  }
  std::deque<std::pair<std::string, std::vector<int32_t>>> queue;
  int taken = 0;
};

GenerationOptions optionsOf(const json &o) {
  GenerationOptions options;
  options.maxNewTokens = o["max_new_tokens"];
  options.maxDenoisingSteps = o["max_denoising_steps"];
  options.tMin = o["t_min"];
  options.tMax = o["t_max"];
  options.entropyBound = o["entropy_bound"];
  options.stabilityThreshold = o["stability_threshold"];
  options.confidenceThreshold = o["confidence_threshold"];
  options.eosIds = o["eos_token_id"].get<std::vector<int32_t>>();
  options.padId = o["pad_token_id"];
  return options;
}

class Generation : public testing::TestWithParam<ModuleUnderTest> {
protected:
  void SetUp() override {
    module_ = loadWithWeights(GetParam());
    ASSERT_TRUE(module_);
  }
  KVCache cache(int64_t pages) {
    auto c = module_->createCache(/*pageSize=*/16, pages);
    EXPECT_TRUE(c) << c.error();
    return std::move(*c);
  }
  std::unique_ptr<CompiledModule> module_;
};

TEST_P(Generation, ReplaysTransformersGenerateDecisionForDecision) {
  ASSERT_EQ(recorded()["generate"].size(), 2u);
  for (const json &s : recorded()["generate"]) {
    SCOPED_TRACE(s["name"].get<std::string>());
    KVCache kv = cache(32);
    Generator generator(*module_, kv, /*maxBatch=*/1);
    auto random = std::make_shared<RecordedRandom>(s["draws"]);
    GenerationRequest request;
    request.prompt = s["prompt"].get<std::vector<int32_t>>();
    request.options = optionsOf(s["options"]);
    request.random = random;
    ASSERT_TRUE(generator.submit(request));

    const json &passes = s["decoder_passes"];
    size_t pass = 0;
    GenerationEvents events;
    events.onStep = [&](const StepReport &step) {
      ASSERT_LT(pass, passes.size()) << "more decoder passes than recorded";
      const json &p = passes[pass];
      EXPECT_EQ(*step.input, p["canvas_in"].get<std::vector<int32_t>>())
          << "canvas fed to decoder pass " << pass;
      EXPECT_EQ(*step.argmax, p["argmax"].get<std::vector<int32_t>>())
          << "argmax of decoder pass " << pass;
      EXPECT_NEAR(step.meanEntropy, p["mean_entropy"].get<double>(), 1e-3)
          << "pass " << pass;
      ++pass;
    };
    std::vector<GenerationResult> results = generator.run(events);
    ASSERT_EQ(results.size(), 1u);
    const GenerationResult &r = results[0];
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(random->problem.empty()) << random->problem;
    EXPECT_EQ(random->left(), 0u) << "recorded draws left unused";
    EXPECT_EQ(pass, passes.size());
    EXPECT_EQ(r.tokens, s["sequence"].get<std::vector<int32_t>>());
    EXPECT_EQ(r.canvases, s["canvases"].get<int64_t>());
    EXPECT_EQ(r.decoderPasses, static_cast<int64_t>(passes.size()));
    EXPECT_NEAR(r.tokensPerForward(request.options.padId),
                s["tokens_per_forward"].get<double>(), 1e-6);
  }
}

/// Three requests with different prompts, lengths, schedules and seeds.
std::vector<GenerationRequest> mixedRequests() {
  const json &scenarios = recorded()["generate"];
  std::vector<GenerationRequest> requests(3);
  requests[0].prompt = scenarios[0]["prompt"].get<std::vector<int32_t>>();
  requests[0].options = optionsOf(scenarios[0]["options"]);
  requests[0].seed = 11;
  requests[1].prompt = scenarios[1]["prompt"].get<std::vector<int32_t>>();
  requests[1].options = optionsOf(scenarios[1]["options"]);
  requests[1].options.eosIds = {};
  requests[1].seed = 12;
  requests[2].prompt = {5, 17, 200, 31, 99, 4, 450, 23, 8, 61, 77, 300, 2};
  requests[2].options = optionsOf(scenarios[1]["options"]);
  requests[2].options.maxNewTokens = 16;
  requests[2].options.draw = DrawMode::TopK;
  requests[2].seed = 13;
  return requests;
}

TEST_P(Generation, BatchedOutputEqualsSoloOutput) {
  std::vector<GenerationRequest> requests = mixedRequests();
  std::vector<GenerationResult> solo;
  for (const GenerationRequest &request : requests) {
    KVCache kv = cache(32);
    Generator generator(*module_, kv, 1);
    ASSERT_TRUE(generator.submit(request));
    solo.push_back(generator.run()[0]);
    ASSERT_TRUE(solo.back().error.empty()) << solo.back().error;
  }
  // Two at a time: the third joins when the first to finish leaves.
  KVCache kv = cache(32);
  Generator generator(*module_, kv, 2);
  for (const GenerationRequest &request : requests)
    ASSERT_TRUE(generator.submit(request));
  std::vector<size_t> finishedOrder;
  GenerationEvents events;
  events.onFinished = [&](size_t i, const GenerationResult &) {
    finishedOrder.push_back(i);
  };
  std::vector<GenerationResult> batched = generator.run(events);
  ASSERT_EQ(batched.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(batched[i].error.empty()) << batched[i].error;
    EXPECT_EQ(batched[i].tokens, solo[i].tokens) << "request " << i;
    EXPECT_EQ(batched[i].stepsPerCanvas, solo[i].stepsPerCanvas) << i;
    EXPECT_EQ(batched[i].decoderPasses, solo[i].decoderPasses) << i;
  }
  EXPECT_EQ(generator.stats().largestBatch, 2);
  int64_t soloPasses = 0;
  for (const auto &r : solo)
    soloPasses += r.decoderPasses;
  EXPECT_EQ(generator.stats().decoderRows, soloPasses);
  EXPECT_LT(generator.stats().decoderCalls, soloPasses);
  EXPECT_EQ(finishedOrder.size(), 3u);
  // Every page went back to its pool.
  for (int64_t pool = 0; pool < 2; ++pool)
    EXPECT_EQ(*kv.freePages(pool), *kv.totalPages(pool));
}

TEST_P(Generation, SameSeedSameTokensDifferentSeedDifferentTokens) {
  GenerationRequest request = mixedRequests()[0];
  auto once = [&](uint64_t seed) {
    KVCache kv = cache(32);
    Generator generator(*module_, kv, 1);
    request.seed = seed;
    EXPECT_TRUE(generator.submit(request));
    return generator.run()[0].tokens;
  };
  EXPECT_EQ(once(4), once(4));
  EXPECT_NE(once(4), once(5));
}

TEST_P(Generation, AdmissionWaitsForPagesAndRefusesWhatCanNeverFit) {
  std::vector<GenerationRequest> requests = mixedRequests();
  // A prompt whose full-attention pages exceed the whole pool.
  GenerationRequest huge = requests[2];
  huge.prompt.assign(200, 7);
  // 5 pages of 16 positions per pool: the full-attention pool holds the
  // first request (4 pages: 9 prompt tokens and up to 3 canvases) or the
  // third (2 pages), not both; sliding pools stay bounded by the window.
  KVCache kv = cache(5);
  Generator generator(*module_, kv, 4);
  ASSERT_TRUE(generator.submit(requests[1]));
  ASSERT_TRUE(generator.submit(huge));
  ASSERT_TRUE(generator.submit(requests[2]));
  std::vector<GenerationResult> results = generator.run();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].error.empty()) << results[0].error;
  EXPECT_TRUE(results[2].error.empty()) << results[2].error;
  EXPECT_NE(results[1].error.find("request 1 needs"), std::string::npos)
      << results[1].error;
  EXPECT_NE(results[1].error.find("kv_cache_full"), std::string::npos)
      << results[1].error;
  EXPECT_TRUE(results[1].tokens.empty());
  EXPECT_EQ(generator.stats().largestBatch, 1); // they took turns

  // The survivors' tokens are those of a run without the refused request.
  KVCache kv2 = cache(32);
  Generator alone(*module_, kv2, 4);
  ASSERT_TRUE(alone.submit(requests[1]));
  ASSERT_TRUE(alone.submit(requests[2]));
  std::vector<GenerationResult> expected = alone.run();
  EXPECT_EQ(results[0].tokens, expected[0].tokens);
  EXPECT_EQ(results[2].tokens, expected[1].tokens);
}

TEST_P(Generation, BadRequestsAreRefusedAtSubmit) {
  KVCache kv = cache(8);
  Generator generator(*module_, kv, 2);
  GenerationRequest request;
  auto refused = generator.submit(request);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("prompt is empty"), std::string::npos);
  request.prompt = {1, 2, 512};
  refused = generator.submit(request);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("prompt token 2 is 512"), std::string::npos)
      << refused.error();
  request.prompt = {1, 2};
  request.options.tMax = 0;
  refused = generator.submit(request);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("t_max"), std::string::npos);
  EXPECT_TRUE(generator.run().empty());
}

// A server's use: serve() on one thread, submit() and cancel() from others.
TEST_P(Generation, ServeTakesRequestsWhileRunningAndAnswersAsAlone) {
  std::vector<GenerationRequest> requests = mixedRequests();
  std::vector<std::vector<int32_t>> solo;
  for (const GenerationRequest &request : requests) {
    KVCache kv = cache(32);
    Generator generator(*module_, kv, 1);
    ASSERT_TRUE(generator.submit(request));
    solo.push_back(generator.run()[0].tokens);
  }
  KVCache kv = cache(32);
  Generator generator(*module_, kv, 2);
  std::mutex mutex;
  std::map<size_t, GenerationResult> results;
  std::atomic<int64_t> steps{0};
  GenerationEvents events;
  events.onStep = [&](const StepReport &) { ++steps; };
  events.onFinished = [&](size_t i, const GenerationResult &r) {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(results.emplace(i, r).second) << "request " << i << " twice";
  };
  std::thread loop([&] { generator.serve(events); });
  // The second and third arrive while the first is being denoised.
  ASSERT_EQ(*generator.submit(requests[0]), 0u);
  while (steps == 0)
    std::this_thread::yield();
  std::vector<std::thread> clients;
  for (size_t i = 1; i < 3; ++i)
    clients.emplace_back(
        [&, i] { EXPECT_TRUE(generator.submit(requests[i])); });
  for (std::thread &t : clients)
    t.join();
  generator.stop();
  loop.join();
  auto late = generator.submit(requests[0]);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().find("stopping"), std::string::npos) << late.error();
  ASSERT_EQ(results.size(), 3u);
  std::map<std::vector<int32_t>, int> expected, got;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(results[i].error.empty()) << results[i].error;
    ++expected[solo[i]];
    ++got[results[i].tokens];
  }
  // Indices follow the order of arrival, which the client threads race for.
  EXPECT_EQ(results[0].tokens, solo[0]);
  EXPECT_EQ(got, expected);
  GeneratorLoad load = generator.load();
  EXPECT_EQ(load.waiting, 0);
  EXPECT_EQ(load.running, 0);
  for (int64_t pool = 0; pool < 2; ++pool)
    EXPECT_EQ(*kv.freePages(pool), *kv.totalPages(pool));
}

TEST_P(Generation, CancelFreesPagesAndLeavesTheOthersAlone) {
  std::vector<GenerationRequest> requests = mixedRequests();
  KVCache soloCache = cache(32);
  Generator alone(*module_, soloCache, 1);
  ASSERT_TRUE(alone.submit(requests[2]));
  std::vector<int32_t> expected = alone.run()[0].tokens;

  GenerationRequest endless = requests[1]; // no eos: every canvas it may
  endless.options.maxNewTokens = 256;
  KVCache kv = cache(64);
  Generator generator(*module_, kv, 2);
  ASSERT_EQ(*generator.submit(endless), 0u);
  ASSERT_EQ(*generator.submit(requests[2]), 1u);
  ASSERT_EQ(*generator.submit(endless), 2u); // cancelled while waiting
  std::map<size_t, GenerationResult> results;
  GenerationEvents events;
  events.onStep = [&](const StepReport &s) {
    if (s.request == 0 && s.canvas == 0 && s.step == 1) {
      EXPECT_TRUE(generator.cancel(2));
    }
    if (s.request == 0 && s.canvas == 1 && s.step == 1) {
      EXPECT_TRUE(generator.cancel(0));
      EXPECT_GT(generator.load().pagesReserved[0], 0);
    }
  };
  events.onFinished = [&](size_t i, const GenerationResult &r) {
    results[i] = r;
  };
  std::thread loop([&] { generator.serve(events); });
  generator.stop();
  loop.join();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].cancelled);
  EXPECT_NE(results[0].error.find("request 0: cancelled"), std::string::npos)
      << results[0].error;
  EXPECT_EQ(results[0].canvases, 1); // it stopped in its second canvas
  EXPECT_TRUE(results[2].cancelled);
  EXPECT_EQ(results[2].decoderPasses, 0);
  EXPECT_FALSE(results[1].cancelled);
  EXPECT_TRUE(results[1].error.empty()) << results[1].error;
  EXPECT_EQ(results[1].tokens, expected);
  EXPECT_FALSE(generator.cancel(0)); // already over
  EXPECT_FALSE(generator.cancel(7)); // never was
  for (int64_t pool = 0; pool < 2; ++pool)
    EXPECT_EQ(*kv.freePages(pool), *kv.totalPages(pool));
  EXPECT_EQ(generator.load().pagesReserved, std::vector<int64_t>(2, 0));
}

INSTANTIATE_TEST_SUITE_P(Modules, Generation,
                         testing::ValuesIn(modulesUnderTest()), moduleName);

} // namespace
