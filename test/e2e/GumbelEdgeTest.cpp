//===- GumbelEdgeTest.cpp - The categorical draw's noise stays finite -----===//
//
// dg.categorical_sample adds Gumbel noise -log(-log(u)) to each logit, with
// u made from a hash of the row's seed and the token. With u from the
// hash's top 24 bits, (2^24 - 1) + 0.5 rounded to 2^24 in f32: u was 1, the
// noise infinite, and that token won whatever its probability (once in 2^24
// draws; 1.6 % of the draws over a 262144-token vocabulary). The seed below
// makes the hash of token 5 exactly that edge value (found by inverting
// MurmurHash3's finalizer); the row's logits make token 2 all but certain.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace dgc::runtime;

namespace {

constexpr int32_t kEdgeSeed = 60857330; // fmix32(seed ^ fmix32(5)) = 0xffffff03
constexpr int kEdgeToken = 5, kLikelyToken = 2, kVocab = 16, kRows = 4;

void drawsTheLikelyToken(const std::string &path, Device device) {
  auto module = CompiledModule::load(path, device);
  ASSERT_TRUE(module) << module.error();
  ASSERT_TRUE(module->bindRandomWeights(0)); // it has none
  // Every row: token 2 at +30, token 5 at -30, the rest at 0; row 0 has the
  // edge seed, the others ordinary ones.
  std::vector<float> logits(kRows * kVocab, 0.0f);
  for (int r = 0; r < kRows; ++r) {
    logits[r * kVocab + kLikelyToken] = 30.0f;
    logits[r * kVocab + kEdgeToken] = -30.0f;
  }
  std::vector<int32_t> seeds = {kEdgeSeed, 0, 1, 12345};
  auto out = module->call("draw", {{logits.data(), {1, kRows, kVocab}},
                                   {seeds.data(), {1, kRows}}});
  ASSERT_TRUE(out) << out.error();
  for (int r = 0; r < kRows; ++r)
    EXPECT_EQ((*out)[0].i32()[r], kLikelyToken)
        << "row " << r << " (seed " << seeds[r] << ") on "
        << deviceName(device);
}

TEST(GumbelEdge, TheEdgeHashDoesNotWinOnTheHost) {
  drawsTheLikelyToken(testPath(DGC_GUMBEL_EDGE_MODULE), Device::Host);
}

// With a GPU (DGC_TEST_CUDA_MODULE set, as scripts/gpu-check.sh does).
TEST(GumbelEdge, TheEdgeHashDoesNotWinOnCuda) {
  const char *cuda = std::getenv("DGC_TEST_CUDA_MODULE");
  if (!cuda || !*cuda)
    GTEST_SKIP() << "DGC_TEST_CUDA_MODULE is not set (needs a GPU)";
  drawsTheLikelyToken(testPath(DGC_GUMBEL_EDGE_MODULE), Device::Cuda);
}

} // namespace
