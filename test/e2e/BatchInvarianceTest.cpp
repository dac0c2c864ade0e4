//===- BatchInvarianceTest.cpp - A row's numbers alone and in a batch -----===//
//
// A batched pass reads each pool through a table as wide as the batch's
// widest row, so a short request's keys are padded with masked ones when it
// shares a pass with a longer one. Its outputs must not change by a single
// bit: the sampler turns a last-bit difference into other tokens a few steps
// later (dgc-serve's load test found one). Here a request's denoise step and
// commit run alone and beside requests of other lengths, and every output
// of its row is compared bit for bit.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"

#include <algorithm>
#include <numeric>

using namespace dgc::runtime;

namespace {

/// Row `row` of an output, as raw bytes (floats compared bit for bit).
std::vector<uint8_t> rowOf(const CompiledModule::Output &out, int64_t row) {
  if (out.shape.empty() || out.bytes.empty())
    return {};
  size_t size = out.bytes.size() / static_cast<size_t>(out.shape[0]);
  return {out.bytes.begin() + row * size, out.bytes.begin() + (row + 1) * size};
}

/// What a denoise step gave one row.
struct RowStep {
  std::vector<std::vector<uint8_t>> outputs;
};

RowStep rowStep(const Executor::Step &s, int64_t row) {
  RowStep r;
  for (const CompiledModule::Output *o :
       {&s.scaledLogits, &s.argmax, &s.topkProbs, &s.topkIds, &s.entropy,
        &s.sample, &s.scSoft})
    r.outputs.push_back(rowOf(*o, row));
  return r;
}

class BatchInvariance : public testing::TestWithParam<ModuleUnderTest> {
protected:
  void SetUp() override {
    module_ = loadWithWeights(GetParam());
    ASSERT_TRUE(module_);
  }

  std::vector<int32_t> tokens(int64_t count, int32_t first) const {
    std::vector<int32_t> t(count);
    int64_t vocab = module_->manifest().vocabSize;
    for (int64_t i = 0; i < count; ++i)
      t[i] = static_cast<int32_t>(3 + (first + 37 * i) % (vocab - 3));
    return t;
  }

  /// Prefills prompts of `lengths`, then per request: a denoise step, the
  /// commit of a canvas, and a second step at the new length, all batched.
  /// Returns row `watched`'s outputs of both steps.
  std::vector<RowStep> run(const std::vector<int64_t> &lengths,
                           size_t watched) {
    const int64_t c = module_->manifest().canvasLength;
    const int64_t batch = static_cast<int64_t>(lengths.size());
    auto cache = module_->createCache(/*pageSize=*/16, /*pages=*/64);
    EXPECT_TRUE(cache) << cache.error();
    if (!cache)
      return {};
    Executor executor(*module_, *cache);
    std::vector<RequestId> ids;
    for (size_t b = 0; b < lengths.size(); ++b) {
      auto id = cache->admit(lengths[b] + c);
      EXPECT_TRUE(id) << id.error();
      if (!id)
        return {};
      ids.push_back(*id);
      std::vector<int32_t> positions(lengths[b]);
      std::iota(positions.begin(), positions.end(), 0);
      auto encoded = executor.encode({*id}, tokens(lengths[b], 1), positions);
      EXPECT_TRUE(encoded) << encoded.error();
    }
    // Each row's canvas and draws depend on its length only, not its place.
    std::vector<int32_t> canvas, seeds;
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<int32_t> t = tokens(c, static_cast<int32_t>(lengths[b]));
      canvas.insert(canvas.end(), t.begin(), t.end());
      for (int64_t i = 0; i < c; ++i)
        seeds.push_back(static_cast<int32_t>(1000 * lengths[b] + i));
    }
    std::vector<float> sc(batch * c * module_->manifest().hiddenSize, 0.0f);
    std::vector<uint8_t> off(batch, 0);
    std::vector<float> temps(batch, 0.7f);
    std::vector<RowStep> watchedSteps;
    auto first = executor.decode(ids, canvas, sc, off, temps, seeds);
    EXPECT_TRUE(first) << first.error();
    if (!first)
      return {};
    watchedSteps.push_back(rowStep(*first, watched));

    // Commit each row's argmax, then a step after it with self-conditioning.
    std::vector<int32_t> committed(first->argmax.i32(),
                                   first->argmax.i32() + batch * c),
        positions;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < c; ++i)
        positions.push_back(static_cast<int32_t>(lengths[b] + i));
    auto encoded = executor.encode(ids, committed, positions);
    EXPECT_TRUE(encoded) << encoded.error();
    for (int64_t b = 0; b < batch; ++b) {
      Status s = cache->reserve(ids[b], lengths[b] + 2 * c);
      EXPECT_TRUE(s) << s.error();
    }
    std::vector<float> soft = first->scSoft.floats();
    std::vector<uint8_t> on(batch, 1);
    auto second = executor.decode(ids, canvas, soft, on, temps, seeds);
    EXPECT_TRUE(second) << second.error();
    if (!second)
      return {};
    watchedSteps.push_back(rowStep(*second, watched));
    return watchedSteps;
  }

  std::unique_ptr<CompiledModule> module_;
};

TEST_P(BatchInvariance, ARowGivesTheSameBitsBesideLongerAndShorterRows) {
  // 13 + 16 keys is no multiple of 4 (a panel of the host's score GEMM):
  // alone the last keys are left over from the panels, beside a longer row
  // they fall inside one.
  for (int64_t length : {13, 5, 22}) {
    std::vector<RowStep> alone = run({length}, 0);
    ASSERT_EQ(alone.size(), 2u);
    for (std::vector<int64_t> batch :
         {std::vector<int64_t>{length, 30}, std::vector<int64_t>{47, length},
          std::vector<int64_t>{3, length, 20}}) {
      size_t row =
          std::find(batch.begin(), batch.end(), length) - batch.begin();
      std::vector<RowStep> beside = run(batch, row);
      ASSERT_EQ(beside.size(), 2u);
      const char *names[] = {"scaled_logits", "argmax",  "topk_probs",
                             "topk_ids",      "entropy", "sample",
                             "sc_soft"};
      for (size_t step = 0; step < 2; ++step)
        for (size_t o = 0; o < 7; ++o)
          EXPECT_TRUE(beside[step].outputs[o] == alone[step].outputs[o])
              << "prompt of " << length << " in a batch of " << batch.size()
              << " (row " << row << "), step " << step + 1 << ": " << names[o]
              << " differs from the request alone";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modules, BatchInvariance,
                         testing::ValuesIn(modulesUnderTest()), moduleName);

} // namespace
