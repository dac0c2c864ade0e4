//===- TinyModelTest.cpp - The compiled tiny model against transformers ---===//
//
// Replays what test/fixtures/tiny recorded from transformers' DiffusionGemma
// (scripts/fixtures/make_tiny_fixtures.py): a 40-token prefill, two denoise
// steps (self-conditioning off, then on), the commit of a canvas, and a step
// after it, through the host module and the paged KV cache, in f32.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/Sampler.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace dgc::runtime;

namespace {

const std::string kModule = testPath(DGC_TINY_MODULE);
const std::string kFusedModule = testPath(DGC_TINY_FUSED_MODULE);
const std::string kFixtures = testPath(DGC_TINY_FIXTURES);

// Tolerances of the issue; the fixtures' own float32 paths differ by ~1e-4.
constexpr double kLogitTolerance = 1e-3;
constexpr double kEntropyTolerance = 1e-4;
constexpr double kHiddenTolerance = 1e-3;

/// The recorded tensors, as float or int values.
class Fixtures {
public:
  Fixtures() {
    auto file = SafetensorsFile::open(kFixtures + "/expected.safetensors");
    if (!file) {
      ADD_FAILURE() << file.error();
      return;
    }
    file_ = std::make_unique<SafetensorsFile>(std::move(*file));
  }
  std::vector<float> floats(const std::string &name) const {
    auto t = file_->find(name);
    EXPECT_TRUE(t) << name;
    auto values = toFloat32(*t);
    EXPECT_TRUE(values) << values.error();
    return *values;
  }
  std::vector<int32_t> ints(const std::string &name) const {
    auto t = file_->find(name);
    EXPECT_TRUE(t && t->dtype() == DType::I64) << name;
    std::vector<int32_t> out(t->numElements());
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t v;
      std::memcpy(&v, t->data + 8 * i, 8);
      out[i] = static_cast<int32_t>(v);
    }
    return out;
  }
  std::vector<int64_t> shape(const std::string &name) const {
    return file_->find(name)->shape();
  }

private:
  std::unique_ptr<SafetensorsFile> file_;
};

double maxAbsDiff(const float *a, const std::vector<float> &b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

std::vector<int32_t> range(int32_t from, int32_t count) {
  std::vector<int32_t> v(count);
  for (int32_t i = 0; i < count; ++i)
    v[i] = from + i;
  return v;
}

/// Runs for each compiled form of the model: unfused, and with the fusion
/// passes.
class TinyModel : public testing::TestWithParam<ModuleUnderTest> {
protected:
  void SetUp() override {
    module_ = loadWithWeights(GetParam());
    ASSERT_TRUE(module_);
    auto cache = module_->createCache(/*pageSize=*/16, /*pagesPerPool=*/16);
    ASSERT_TRUE(cache) << cache.error();
    cache_ = std::make_unique<KVCache>(std::move(*cache));
    auto id = cache_->admit(96);
    ASSERT_TRUE(id) << id.error();
    request_ = *id;
  }

  /// Runs one decoder step and checks it against step `name` of the
  /// fixtures; returns the step's soft embedding (the next step's `soft`).
  std::vector<float> checkStep(const std::string &name,
                               const std::vector<float> &soft, bool scEnabled,
                               float temperature) {
    Executor run(*module_, *cache_);
    auto step = run.decode({request_}, fixtures_.ints(name + ".canvas"), soft,
                           {static_cast<uint8_t>(scEnabled)}, {temperature});
    EXPECT_TRUE(step) << step.error();
    if (!step)
      return {};
    std::vector<float> x = fixtures_.floats(name + ".x");
    double logitError = maxAbsDiff(step->scaledLogits.f32(), x);
    EXPECT_LE(logitError, kLogitTolerance) << name << ": logits";

    std::vector<int32_t> argmax = fixtures_.ints(name + ".argmax");
    for (size_t i = 0; i < argmax.size(); ++i)
      EXPECT_EQ(step->argmax.i32()[i], argmax[i]) << name << " position " << i;
    double entropyError =
        maxAbsDiff(step->entropy.f32(), fixtures_.floats(name + ".entropy"));
    EXPECT_LE(entropyError, kEntropyTolerance) << name << ": entropy";

    // Top-64: identical ids, except where two probabilities tie exactly.
    std::vector<int32_t> ids = fixtures_.ints(name + ".topk_ids");
    std::vector<float> probs = fixtures_.floats(name + ".topk_probs");
    double probError = maxAbsDiff(step->topkProbs.f32(), probs);
    EXPECT_LE(probError, 1e-5) << name << ": top-64 probabilities";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (step->topkIds.i32()[i] == ids[i])
        continue;
      size_t rank = i % 64;
      bool tie = (rank > 0 && probs[i - 1] - probs[i] < 1e-7) ||
                 (rank < 63 && probs[i] - probs[i + 1] < 1e-7);
      EXPECT_TRUE(tie) << name << ": top-64 id at " << i
                       << " differs without a tie";
    }
    std::cout << "[ numerics ] " << label() << " " << name
              << ": max |logit error| " << logitError
              << ", max |entropy error| " << entropyError
              << ", max |top-64 prob error| " << probError << "\n";
    return step->scSoft.floats();
  }

  /// The self-conditioning embedding transformers forms from its recorded
  /// x (`[C, V]`): softmax(x) @ E * sqrt(H), the spec's formula, in double.
  std::vector<double> softEmbeddingOf(const std::vector<float> &x) const {
    const WeightSpec *table = nullptr;
    for (const WeightSpec &w : module_->manifest().weights)
      if (w.name == "model.decoder.embed_tokens.weight")
        table = &w;
    EXPECT_TRUE(table && table->dtype == DType::F32);
    if (!table)
      return {};
    Result<std::vector<uint8_t>> bytes = module_->readWeight(*table);
    EXPECT_TRUE(bytes) << bytes.error();
    if (!bytes)
      return {};
    auto *e = reinterpret_cast<const float *>(bytes->data());
    int64_t v = table->shape[0], h = table->shape[1];
    int64_t rows = static_cast<int64_t>(x.size()) / v;
    std::vector<double> soft(rows * h, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = x.data() + r * v;
      double peak = *std::max_element(row, row + v), total = 0;
      for (int64_t i = 0; i < v; ++i)
        total += std::exp(row[i] - peak);
      for (int64_t i = 0; i < v; ++i) {
        double p = std::exp(row[i] - peak) / total;
        for (int64_t j = 0; j < h; ++j)
          soft[r * h + j] += p * e[i * h + j];
      }
      for (int64_t j = 0; j < h; ++j)
        soft[r * h + j] *= std::sqrt(static_cast<double>(h));
    }
    return soft;
  }

  static const char *label() {
    return GetParam().name.c_str();
  }
  std::unique_ptr<CompiledModule> module_;
  std::unique_ptr<KVCache> cache_;
  RequestId request_ = 0;
  Fixtures fixtures_;
};

TEST_P(TinyModel, PrefillMatchesHiddenStatesAndCache) {
  Executor run(*module_, *cache_);
  auto hidden = run.encode({request_}, fixtures_.ints("prompt"), range(0, 40));
  ASSERT_TRUE(hidden) << hidden.error();
  double error = maxAbsDiff(hidden->f32(), fixtures_.floats("prefill.hidden"));
  EXPECT_LE(error, kHiddenTolerance);
  std::cout << "[ numerics ] " << label() << " prefill: max |hidden error| "
            << error << "\n";
  EXPECT_EQ(*cache_->committedLength(request_), 40);

  // K/V as stored, for the rows the cache keeps (the sliding pool keeps
  // only the window).
  const char *layerPool[] = {"kv_cache_sliding", "kv_cache_sliding",
                             "kv_cache_full",    "kv_cache_sliding",
                             "kv_cache_sliding", "kv_cache_full"};
  int64_t slot[] = {0, 1, 0, 2, 3, 1};
  double kvError = 0;
  for (int layer = 0; layer < 6; ++layer) {
    int64_t pool = *cache_->poolIndex(layerPool[layer]);
    const PoolSpec &spec = cache_->pools()[pool];
    int64_t row = spec.numKvHeads * spec.headDim;
    std::vector<float> k(40 * row), v(40 * row);
    std::vector<int32_t> pos(40);
    Status s = cache_->read(request_, pool, slot[layer], 40, k.data(), v.data(),
                            pos.data());
    ASSERT_TRUE(s) << s.error();
    for (const char *which : {"k", "v"}) {
      std::vector<float> expected = fixtures_.floats(
          std::string("prefill.") + which + ".layer" + std::to_string(layer));
      const std::vector<float> &got = which[0] == 'k' ? k : v;
      int kept = 0;
      for (int t = 0; t < 40; ++t) {
        if (pos[t] < 0)
          continue; // recycled: outside every future query's window
        ++kept;
        for (int64_t h = 0; h < spec.numKvHeads; ++h)
          for (int64_t d = 0; d < spec.headDim; ++d)
            kvError = std::max(
                kvError, std::abs(static_cast<double>(
                                      got[t * row + h * spec.headDim + d]) -
                                  expected[(h * 40 + t) * spec.headDim + d]));
      }
      EXPECT_GE(kept, spec.window ? spec.window - 1 : 40) << "layer " << layer;
    }
  }
  EXPECT_LE(kvError, kHiddenTolerance);
  std::cout << "[ numerics ] " << label() << " prefill: max |K/V error| "
            << kvError << "\n";
}

TEST_P(TinyModel, DenoiseStepsCommitAndNextCanvas) {
  Executor run(*module_, *cache_);
  ASSERT_TRUE(run.encode({request_}, fixtures_.ints("prompt"), range(0, 40)));

  const std::vector<float> none(16 * 64, 0.0f);
  // Step 1 (k = N = 8): self-conditioning off, T = 0.8 in f32.
  std::vector<float> soft = checkStep("step1", none, false, 0.8f);
  // Its soft embedding is the one transformers conditions step 2 on: that
  // of step 1's x (recorded as step2.sc_logits_in).
  std::vector<double> expected =
      softEmbeddingOf(fixtures_.floats("step2.sc_logits_in"));
  ASSERT_EQ(soft.size(), expected.size());
  double softError = 0;
  for (size_t i = 0; i < soft.size(); ++i)
    softError = std::max(softError, std::abs(soft[i] - expected[i]));
  EXPECT_LE(softError, kHiddenTolerance);
  std::cout << "[ numerics ] " << label()
            << " step1: max |soft embedding error| " << softError << "\n";
  // Step 2 (k = 7): self-conditioning on step 1's soft embedding, T = 0.75.
  checkStep("step2", soft, true, 0.75f);
  EXPECT_EQ(*cache_->committedLength(request_), 40) << "denoise steps commit";

  // Commit the clean argmax at positions 40..55.
  auto hidden =
      run.encode({request_}, fixtures_.ints("commit.ids"), range(40, 16));
  ASSERT_TRUE(hidden) << hidden.error();
  double error = maxAbsDiff(hidden->f32(), fixtures_.floats("commit.hidden"));
  EXPECT_LE(error, kHiddenTolerance);
  std::cout << "[ numerics ] " << label() << " commit: max |hidden error| "
            << error << "\n";
  EXPECT_EQ(*cache_->committedLength(request_), 56);

  // A new canvas after the commit: the sliding layers see only the last 15
  // committed tokens.
  checkStep("step3", none, false, 0.8f);
}

// The same step twice gives the same outputs; a third that need not return
// x leaves it where the module wrote it and returns the rest unchanged.
TEST_P(TinyModel, StepsAreRepeatable) {
  Executor run(*module_, *cache_);
  ASSERT_TRUE(run.encode({request_}, fixtures_.ints("prompt"), range(0, 40)));
  std::vector<float> zeros(16 * 64, 0.0f);
  auto step = [&](bool wantLogits) {
    return run.decode({request_}, fixtures_.ints("step1.canvas"), zeros, {0},
                      {0.8f}, {}, wantLogits);
  };
  auto a = step(true), b = step(true), c = step(false);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->scaledLogits.bytes, b->scaledLogits.bytes)
      << "canvas scratch of one step leaked into the next";
  EXPECT_EQ(a->scaledLogits.bytes.size(), 16u * 512 * 4);
  EXPECT_TRUE(c->scaledLogits.bytes.empty());
  EXPECT_EQ(c->scaledLogits.shape, (std::vector<int64_t>{1, 16, 512}));
  for (const auto *other : {&*b, &*c}) {
    EXPECT_EQ(a->argmax.bytes, other->argmax.bytes);
    EXPECT_EQ(a->topkProbs.bytes, other->topkProbs.bytes);
    EXPECT_EQ(a->entropy.bytes, other->entropy.bytes);
    EXPECT_EQ(a->sample.bytes, other->sample.bytes);
    EXPECT_EQ(a->scSoft.bytes, other->scSoft.bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Modules, TinyModel, testing::ValuesIn(modulesUnderTest()),
                         moduleName);

/// The fused module computes what the unfused one does, up to the order of
/// f32 sums: a step with self-conditioning off, then one with it on, both
/// modules given the same inputs.
TEST(FusedModule, MatchesUnfused) {
  auto checkpoint = Checkpoint::open(kFixtures + "/checkpoint");
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  Fixtures fixtures;
  std::vector<int32_t> positions(40);
  for (int i = 0; i < 40; ++i)
    positions[i] = i;
  std::vector<std::vector<float>> soft, x;
  std::vector<std::vector<uint8_t>> argmax;
  for (const std::string &dir : {kModule, kFusedModule}) {
    auto module = CompiledModule::load(dir);
    ASSERT_TRUE(module) << module.error();
    ASSERT_TRUE(module->bindWeights(*checkpoint));
    auto cache = module->createCache(16, 16);
    ASSERT_TRUE(cache);
    auto id = cache->admit(96);
    ASSERT_TRUE(id);
    Executor run(*module, *cache);
    ASSERT_TRUE(run.encode({*id}, fixtures.ints("prompt"), positions));
    auto first = run.decode({*id}, fixtures.ints("step1.canvas"),
                            std::vector<float>(16 * 64, 0.0f), {0}, {0.8f});
    ASSERT_TRUE(first) << first.error();
    soft.push_back(first->scSoft.floats());
    // Both modules condition on the unfused module's soft embedding.
    auto step =
        run.decode({*id}, fixtures.ints("step2.canvas"), soft[0], {1}, {0.75f});
    ASSERT_TRUE(step) << step.error();
    x.push_back(step->scaledLogits.floats());
    argmax.push_back(step->argmax.bytes);
  }
  auto maxDiff = [](const std::vector<float> &a, const std::vector<float> &b) {
    double diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
      diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    return diff;
  };
  EXPECT_EQ(argmax[0], argmax[1]);
  double softDiff = maxDiff(soft[0], soft[1]), diff = maxDiff(x[0], x[1]);
  EXPECT_LE(softDiff, 1e-4);
  EXPECT_LE(diff, 1e-4);
  std::cout << "[ numerics ] fused vs unfused: max |soft embedding difference| "
            << softDiff << ", max |logit difference| " << diff << "\n";
}

/// The step's exact draws follow softmax(x) over the whole vocabulary: 16
/// copies of one request, 24 steps of fresh seeds (384 draws at each
/// canvas position), counted against the probabilities of the step's x.
TEST(Draws, FollowTheSoftmaxOfX) {
  auto checkpoint = Checkpoint::open(kFixtures + "/checkpoint");
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  auto module = CompiledModule::load(kFusedModule);
  ASSERT_TRUE(module) << module.error();
  ASSERT_TRUE(module->bindWeights(*checkpoint));
  const int64_t rows = 16, c = 16, v = 512, h = 64, steps = 24;
  auto cache = module->createCache(16, 6 * rows);
  ASSERT_TRUE(cache) << cache.error();
  Fixtures fixtures;
  std::vector<RequestId> ids;
  std::vector<int32_t> prompt, positions, canvas;
  for (int64_t b = 0; b < rows; ++b) {
    auto id = cache->admit(56);
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
    std::vector<int32_t> p = fixtures.ints("prompt"),
                         s = fixtures.ints("step1.canvas");
    prompt.insert(prompt.end(), p.begin(), p.end());
    std::vector<int32_t> at = range(0, 40);
    positions.insert(positions.end(), at.begin(), at.end());
    canvas.insert(canvas.end(), s.begin(), s.end());
  }
  Executor run(*module, *cache);
  ASSERT_TRUE(run.encode(ids, prompt, positions));
  std::vector<float> none(rows * c * h, 0.0f);
  std::vector<uint8_t> off(rows, 0);
  std::vector<float> temperatures(rows, 0.8f);

  SeededRandom random(7);
  std::vector<int32_t> seeds(rows * c);
  std::vector<std::vector<int64_t>> counts(c, std::vector<int64_t>(v, 0));
  std::vector<float> x;
  for (int64_t step = 0; step < steps; ++step) {
    random.drawSeeds(seeds.data(), rows * c);
    auto out = run.decode(ids, canvas, none, off, temperatures, seeds,
                          /*wantLogits=*/step == 0);
    ASSERT_TRUE(out) << out.error();
    if (step == 0) {
      x.assign(out->scaledLogits.f32(), out->scaledLogits.f32() + c * v);
      // The same seeds draw the same tokens.
      auto again = run.decode(ids, canvas, none, off, temperatures, seeds);
      ASSERT_TRUE(again) << again.error();
      EXPECT_EQ(again->sample.bytes, out->sample.bytes);
    }
    for (int64_t b = 0; b < rows; ++b)
      for (int64_t i = 0; i < c; ++i)
        ++counts[i][out->sample.i32()[b * c + i]];
  }
  // Pearson's chi-square per position: tokens expected at least 5 times on
  // their own, the rest pooled.
  const double n = static_cast<double>(rows * steps);
  double chi2 = 0;
  int64_t df = 0, drawnOtherThanArgmax = 0;
  for (int64_t i = 0; i < c; ++i) {
    const float *row = x.data() + i * v;
    double peak = *std::max_element(row, row + v), total = 0;
    for (int64_t t = 0; t < v; ++t)
      total += std::exp(row[t] - peak);
    int64_t argmax = std::max_element(row, row + v) - row;
    drawnOtherThanArgmax += static_cast<int64_t>(n) - counts[i][argmax];
    double restExpected = 0, restSeen = 0;
    int64_t buckets = 0;
    for (int64_t t = 0; t < v; ++t) {
      double expected = n * std::exp(row[t] - peak) / total;
      if (expected >= 5) {
        chi2 += std::pow(counts[i][t] - expected, 2) / expected;
        ++buckets;
      } else {
        restExpected += expected;
        restSeen += counts[i][t];
      }
    }
    if (restExpected > 0) {
      chi2 += std::pow(restSeen - restExpected, 2) / restExpected;
      ++buckets;
    }
    df += buckets - 1;
  }
  // Within four standard deviations (sqrt(2 df)) of its mean, df.
  double bound = df + 4 * std::sqrt(2.0 * df);
  EXPECT_LT(chi2, bound) << df << " degrees of freedom";
  EXPECT_GT(drawnOtherThanArgmax, static_cast<int64_t>(n * c / 4))
      << "the draws are hardly random";
  std::cout << "[ numerics ] draws: chi-square " << chi2 << " on " << df
            << " degrees of freedom (bound " << bound << "), "
            << drawnOtherThanArgmax << " of " << n * c
            << " draws not the argmax\n";
}

/// The vision graph with its fused (uncached, bidirectional) attention
/// computes what the unfused one does: a 30 x 21 patch image and padding.
TEST(FusedModule, VisionMatchesUnfused) {
  auto checkpoint = Checkpoint::open(kFixtures + "/checkpoint");
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  const int64_t patches = 630, values = 48;
  std::vector<float> pixels(2 * patches * values);
  std::vector<int32_t> positions(2 * patches * 2, -1);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
  // Image 0: a full 30 x 21 grid. Image 1: a 3 x 3 grid, then padding.
  for (int64_t p = 0; p < patches; ++p) {
    positions[2 * p] = static_cast<int32_t>(p % 30);
    positions[2 * p + 1] = static_cast<int32_t>(p / 30);
    if (p < 9) {
      positions[2 * (patches + p)] = static_cast<int32_t>(p % 3);
      positions[2 * (patches + p) + 1] = static_cast<int32_t>(p / 3);
    }
  }
  std::vector<std::vector<uint8_t>> outputs;
  for (const std::string &dir : {kModule, kFusedModule}) {
    auto module = CompiledModule::load(dir);
    ASSERT_TRUE(module) << module.error();
    ASSERT_TRUE(module->bindWeights(*checkpoint));
    auto out = module->call("vision", {{pixels.data(), {2, patches, values}},
                                       {positions.data(), {2, patches, 2}}});
    ASSERT_TRUE(out) << out.error();
    outputs.push_back((*out)[0].bytes);
  }
  auto *a = reinterpret_cast<const float *>(outputs[0].data());
  auto *b = reinterpret_cast<const float *>(outputs[1].data());
  double diff = 0, magnitude = 0;
  for (size_t i = 0; i < outputs[0].size() / 4; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    magnitude = std::max(magnitude, std::abs(static_cast<double>(a[i])));
  }
  EXPECT_GT(magnitude, 0.1) << "the soft tokens are degenerate";
  EXPECT_LE(diff, 1e-4);
  std::cout << "[ numerics ] vision fused vs unfused: max |difference| " << diff
            << "\n";
}

} // namespace
