//===- SamplerTest.cpp - The sampler's decisions against transformers' ----===//
//
// test/fixtures/tiny/sampler.json holds what transformers' own sampler
// components decided on crafted inputs (scripts/fixtures/
// make_sampler_fixtures.py): temperatures, entropy-bound acceptance (all
// confident, none, ties, a sum on the bound), the stable-and-confident stop,
// and eos finalisation. Each case here feeds the same inputs to the runtime's
// functions and expects the same decisions.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Sampler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

const json &fixtures() {
  static const json doc = [] {
    std::ifstream in(std::string(DGC_TINY_FIXTURES) + "/sampler.json");
    return json::parse(in);
  }();
  return doc;
}

const json &edge(const char *kind) { return fixtures()["edge_cases"][kind]; }

std::vector<float> floats(const json &values) {
  std::vector<float> out;
  for (double v : values)
    out.push_back(static_cast<float>(v));
  return out;
}

TEST(Sampler, TemperatureScheduleMatchesTransformersBitForBit) {
  ASSERT_FALSE(edge("temperatures").empty());
  for (const json &c : edge("temperatures")) {
    GenerationOptions o;
    o.maxDenoisingSteps = c["max_denoising_steps"];
    o.tMin = c["t_min"];
    o.tMax = c["t_max"];
    std::vector<float> expected = floats(c["temperature_for_k_from_N"]);
    for (int64_t k = o.maxDenoisingSteps, i = 0; k >= 1; --k, ++i)
      EXPECT_EQ(temperature(o, k), expected[i])
          << "N=" << o.maxDenoisingSteps << " k=" << k;
  }
}

TEST(Sampler, AcceptanceMatchesTransformers) {
  ASSERT_GE(edge("acceptance").size(), 8u);
  for (const json &c : edge("acceptance")) {
    std::vector<float> entropy = floats(c["entropy"]);
    std::vector<uint8_t> got = acceptByEntropy(
        entropy.data(), static_cast<int64_t>(entropy.size()),
        c["entropy_bound"].get<double>());
    std::vector<uint8_t> expected = c["accepted"].get<std::vector<uint8_t>>();
    EXPECT_EQ(got, expected) << c["name"] << ": " << c["note"];
  }
}

TEST(Sampler, AcceptanceKeepsAtLeastOnePosition) {
  std::vector<float> high(16, 50.0f);
  auto accepted = acceptByEntropy(high.data(), 16, 1e-9);
  EXPECT_EQ(std::count(accepted.begin(), accepted.end(), 1), 1);
  EXPECT_EQ(accepted[0], 1); // all tied: the first position
}

TEST(Sampler, StoppingMatchesTransformers) {
  ASSERT_GE(edge("stopping").size(), 5u);
  for (const json &c : edge("stopping")) {
    StopCriterion stop(c["stability_threshold"].get<int64_t>(),
                       c["confidence_threshold"].get<double>());
    int step = 0;
    for (const json &s : c["steps"]) {
      std::vector<int32_t> argmax = s["argmax"];
      std::vector<float> entropy = floats(s["entropy"]);
      EXPECT_EQ(stop.update(argmax.data(), entropy.data(),
                            static_cast<int64_t>(argmax.size())),
                s["stop"].get<bool>())
          << c["name"] << " step " << step << ": " << c["note"];
      ++step;
    }
  }
}

TEST(Sampler, StopCriterionResetForgetsTheHistory) {
  StopCriterion stop(1, 0.5);
  std::vector<int32_t> argmax = {4, 5};
  std::vector<float> entropy = {0.0f, 0.0f};
  EXPECT_FALSE(stop.update(argmax.data(), entropy.data(), 2));
  EXPECT_TRUE(stop.update(argmax.data(), entropy.data(), 2));
  stop.reset();
  EXPECT_FALSE(stop.update(argmax.data(), entropy.data(), 2));
}

TEST(Sampler, FinalizeMatchesTransformers) {
  ASSERT_GE(edge("finalize").size(), 5u);
  for (const json &c : edge("finalize")) {
    std::vector<int32_t> eos = c["eos_token_id"];
    for (const json &canvas : c["canvases"]) {
      std::vector<int32_t> tokens = canvas["canvas"];
      bool finished = finalizeCanvas(tokens, eos, c["pad_token_id"]);
      EXPECT_EQ(tokens, canvas["committed"].get<std::vector<int32_t>>())
          << c["name"];
      EXPECT_EQ(finished, canvas["finished"].get<bool>()) << c["name"];
    }
  }
}

TEST(Sampler, CanvasCountRoundsUp) {
  GenerationOptions o;
  o.maxNewTokens = 40;
  EXPECT_EQ(o.maxCanvases(16), 3); // 16 does not divide 40: whole canvases
  o.maxNewTokens = 32;
  EXPECT_EQ(o.maxCanvases(16), 2);
  o.maxNewTokens = 1;
  EXPECT_EQ(o.maxCanvases(256), 1);
}

TEST(SeededRandom, SameSeedSameDraws) {
  SeededRandom a(7), b(7), c(8);
  std::vector<int32_t> x(64), y(64), z(64);
  a.uniformIds(512, x.data(), 64);
  b.uniformIds(512, y.data(), 64);
  c.uniformIds(512, z.data(), 64);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

// Chi-square statistic of `counts` against `expected` probabilities.
double chiSquare(const std::vector<int64_t> &counts,
                 const std::vector<double> &expected, int64_t draws) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double e = expected[i] * static_cast<double>(draws);
    if (e > 0)
      chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(SeededRandom, UniformIdsAreUniform) {
  SeededRandom random(1);
  const int64_t vocab = 37, draws = 370000;
  std::vector<int32_t> ids(draws);
  random.uniformIds(vocab, ids.data(), draws);
  std::vector<int64_t> counts(vocab, 0);
  for (int32_t id : ids) {
    ASSERT_GE(id, 0);
    ASSERT_LT(id, vocab);
    ++counts[id];
  }
  // 36 degrees of freedom: the 99.9% quantile is 67.98.
  EXPECT_LT(chiSquare(counts, std::vector<double>(vocab, 1.0 / vocab), draws),
            67.98);
}

// The exact draw happens inside the decoder step (its distribution is
// checked in the end-to-end tests); the source gives each position a seed
// and takes the step's draws as they are.
TEST(SeededRandom, ExactDrawsComeFromTheStepsSeeds) {
  SeededRandom a(11), b(11), c(12);
  std::vector<int32_t> sa(256), sb(256), sc(256);
  a.drawSeeds(sa.data(), 256);
  b.drawSeeds(sb.data(), 256);
  c.drawSeeds(sc.data(), 256);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
  EXPECT_GT(std::set<int32_t>(sa.begin(), sa.end()).size(), 250u);
  std::vector<int32_t> drawn = {5, 0, 511}, out(3);
  a.sampleExact(drawn.data(), 3, out.data());
  EXPECT_EQ(out, drawn);
}

TEST(SeededRandom, TopKDrawsOnlyTheGivenIds) {
  std::vector<float> probs = {0.5f, 0.3f, 0.2f, 0.0f};
  std::vector<int32_t> ids = {40, 7, 300, 9};
  SeededRandom random(2);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    int32_t id;
    random.sampleTopK(probs.data(), ids.data(), 1, 4, &id);
    seen.insert(id);
  }
  EXPECT_EQ(seen, (std::set<int32_t>{40, 7, 300}));
}

TEST(SeededRandom, InverseCdfEdges) {
  std::vector<double> w = {0.0, 2.0, 0.0, 1.0, 0.0};
  EXPECT_EQ(pickByInverseCdf(w.data(), 5, 3.0, 0.0), 1);
  EXPECT_EQ(pickByInverseCdf(w.data(), 5, 3.0, 0.6), 1);
  EXPECT_EQ(pickByInverseCdf(w.data(), 5, 3.0, 0.7), 3);
  EXPECT_EQ(pickByInverseCdf(w.data(), 5, 3.0, 1.0), 3); // rounding past 1
}

} // namespace
