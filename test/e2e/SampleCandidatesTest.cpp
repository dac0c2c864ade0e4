//===- SampleCandidatesTest.cpp - The bf16 sampler's two top-k forms ------===//
//
// With bf16 logits, dg.sample takes its top-64 among the 128 largest
// rounded logits and recomputes their f32 values (convert-dg-to-linalg's
// sample-candidates), so no f32 [canvas x vocabulary] logits outlive the
// head. Here the tiny model in bf16, fused, runs on the host both that way
// and with the top-64 over the f32 logits (--sample-candidates 0): every
// output must agree, the top-64 ids exactly and their probabilities to f32
// rounding.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"

#include <cmath>
#include <iostream>
#include <random>

using namespace dgc::runtime;

namespace {

using Loaded = LoadedWithCache;

double maxAbsDiff(const CompiledModule::Output &a,
                  const CompiledModule::Output &b) {
  std::vector<float> x = a.floats(), y = b.floats();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(double(x[i]) - y[i]));
  return worst;
}

TEST(SampleCandidates, MatchTopKOverF32Logits) {
  Loaded candidates =
      loadWithCache(testPath(DGC_TINY_BF16_MODULE), Device::Host);
  Loaded exact =
      loadWithCache(testPath(DGC_TINY_BF16_EXACT_MODULE), Device::Host);
  ASSERT_TRUE(candidates.module && exact.module);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> id(3, 500);
  std::vector<int32_t> tokens(24), positions(24), canvas(16);
  for (int i = 0; i < 24; ++i) {
    tokens[i] = id(rng);
    positions[i] = i;
  }
  Executor a(*candidates.module, *candidates.cache);
  Executor b(*exact.module, *exact.cache);
  ASSERT_TRUE(a.encode({candidates.request}, tokens, positions));
  ASSERT_TRUE(b.encode({exact.request}, tokens, positions));
  std::vector<float> sc(16 * 64, 0.0f);
  uint8_t scEnabled = 0;
  // Two steps, the second conditioned on the first, at two temperatures.
  for (float temperature : {0.8f, 0.4f}) {
    for (int32_t &x : canvas)
      x = id(rng);
    auto sa =
        a.decode({candidates.request}, canvas, sc, {scEnabled}, {temperature});
    auto sb = b.decode({exact.request}, canvas, sc, {scEnabled}, {temperature});
    ASSERT_TRUE(sa) << sa.error();
    ASSERT_TRUE(sb) << sb.error();
    EXPECT_EQ(sa->scaledLogits.bytes, sb->scaledLogits.bytes);
    EXPECT_EQ(sa->argmax.bytes, sb->argmax.bytes);
    EXPECT_EQ(sa->sample.bytes, sb->sample.bytes);
    double entropyDiff = maxAbsDiff(sa->entropy, sb->entropy);
    double probsDiff = maxAbsDiff(sa->topkProbs, sb->topkProbs);
    std::cout << "[ candidates-vs-f32 ] T " << temperature
              << ": max |diff| top-64 probabilities " << probsDiff
              << ", entropy " << entropyDiff << "\n";
    EXPECT_LE(entropyDiff, 1e-6);
    ASSERT_EQ(sa->topkIds.shape, sb->topkIds.shape);
    const int32_t *ia = sa->topkIds.i32(), *ib = sb->topkIds.i32();
    size_t n = sa->topkIds.bytes.size() / 4, differ = 0;
    for (size_t i = 0; i < n; ++i)
      differ += ia[i] != ib[i];
    EXPECT_EQ(differ, 0u) << "of " << n << " top-64 ids";
    // The candidates' logits are recomputed by another loop than the head's
    // GEMM: the same products, summed in another order.
    EXPECT_LE(probsDiff, 2e-5);
    // Not a degenerate row: the probabilities fall along the 64.
    std::vector<float> probs = sa->topkProbs.floats();
    EXPECT_GT(probs[0], probs[63]);
    sc = sa->scSoft.floats();
    scEnabled = 1;
  }
}

} // namespace
