//===- VisionTest.cpp - Images in prompts against transformers ------------===//
//
// test/fixtures/tiny/vision.safetensors (scripts/fixtures/make_image_fixtures.py)
// holds transformers' preprocessing of two images, their soft tokens from the
// tiny model's vision tower, and the encoder prefill of a 73-token prompt
// with one 60-token image (text, boi, image tokens, eoi, text) as generate()
// runs it: the image block bidirectional, on sliding layers too. Here the
// same goes through the runtime's image loader, the compiled vision graph,
// the prompt expansion and the encoder graph.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Generator.h"
#include "dgc/runtime/PromptImages.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"

#include <cmath>
#include <cstring>

using namespace dgc::runtime;

namespace {

const std::string kFixtures = testPath(DGC_TINY_FIXTURES);
const std::string kImages = testPath(DGC_IMAGE_FIXTURES);

// The fixtures' float64 rerun lands ~1e-6 from the soft tokens and ~3e-4
// from the hidden states; a float32 implementation should stay within these.
constexpr double kSoftTokenTolerance = 1e-4;
constexpr double kHiddenTolerance = 1e-3;

class Vision : public testing::TestWithParam<ModuleUnderTest> {
protected:
  void SetUp() override {
    module_ = loadWithWeights(GetParam());
    ASSERT_TRUE(module_);
    auto file = SafetensorsFile::open(kFixtures + "/vision.safetensors");
    ASSERT_TRUE(file) << file.error();
    fixtures_ = std::make_unique<SafetensorsFile>(std::move(*file));
  }
  std::vector<float> floats(const std::string &name) {
    auto t = fixtures_->find(name);
    EXPECT_TRUE(t) << name;
    return *toFloat32(*t);
  }
  std::vector<int32_t> ints(const std::string &name) {
    auto t = fixtures_->find(name);
    EXPECT_TRUE(t && t->dtype() == DType::I32) << name;
    std::vector<int32_t> out(t->numElements());
    std::memcpy(out.data(), t->data, out.size() * 4);
    return out;
  }
  /// The runtime's own preprocessing of a fixture image.
  ProcessedImage load(const char *file) {
    auto image = loadPromptImage(kImages + "/" + file, module_->manifest());
    EXPECT_TRUE(image) << image.error();
    return image ? *image : ProcessedImage{};
  }
  std::unique_ptr<CompiledModule> module_;
  std::unique_ptr<SafetensorsFile> fixtures_;
};

double maxAbsDiff(const std::vector<float> &a, const std::vector<float> &b,
                  size_t count) {
  double m = 0;
  for (size_t i = 0; i < count; ++i)
    m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

TEST_P(Vision, PreprocessingAndSoftTokensMatchTransformers) {
  const char *files[] = {"rgb_odd_101x67.png", "photo_320x240.jpg"};
  for (int i = 0; i < 2; ++i) {
    std::string name = "image" + std::to_string(i);
    ProcessedImage image = load(files[i]);
    EXPECT_EQ(image.patches, floats(name + ".pixel_values")) << name;
    EXPECT_EQ(image.positions, ints(name + ".positions")) << name;
    std::vector<float> expected = floats(name + ".soft_tokens");
    int64_t h = module_->manifest().hiddenSize;
    ASSERT_EQ(static_cast<int64_t>(expected.size()), image.softTokens * h);

    // One image block of image.softTokens tokens: its soft tokens as the
    // encoder would receive them.
    auto ids = expandImageTokens({7, int32_t(module_->manifest().vision->imageTokenId)},
                                 *module_->manifest().vision, {image.softTokens});
    ASSERT_TRUE(ids) << ids.error();
    auto inputs = encoderImages(*module_, *ids, {image});
    ASSERT_TRUE(inputs) << inputs.error();
    std::vector<float> got(inputs->softTokens.begin() + 2 * h,
                           inputs->softTokens.begin() + (2 + image.softTokens) * h);
    double error = maxAbsDiff(got, expected, expected.size());
    EXPECT_LE(error, kSoftTokenTolerance) << name;
    std::cout << "[ numerics ] " << GetParam().name << " " << name
              << " soft tokens: max |error| " << error << "\n";
    EXPECT_EQ(inputs->spans[2 * 2], 2);
    EXPECT_EQ(inputs->spans[2 * 2 + 1], 1 + image.softTokens);
    EXPECT_EQ(inputs->spans[1], -1); // the text token has no span
  }
}

TEST_P(Vision, PrefillWithAnImageMatchesTransformers) {
  ProcessedImage image = load("rgb_odd_101x67.png");
  std::vector<int32_t> expectedIds = ints("prompt.ids");
  const VisionManifest &v = *module_->manifest().vision;
  // The prompt as a user writes it: one image token where the image goes.
  std::vector<int32_t> prompt = {2, 17, 43, 99, 7, int32_t(v.imageTokenId),
                                 23, 5, 311, 64, 120, 8};
  auto ids = expandImageTokens(prompt, v, {image.softTokens});
  ASSERT_TRUE(ids) << ids.error();
  ASSERT_EQ(*ids, expectedIds);

  auto cache = module_->createCache(16, 16);
  ASSERT_TRUE(cache) << cache.error();
  RequestId request = *cache->admit(96);
  auto inputs = encoderImages(*module_, *ids, {image});
  ASSERT_TRUE(inputs) << inputs.error();
  const int64_t t = static_cast<int64_t>(ids->size());
  std::vector<int32_t> positions(t);
  for (int64_t i = 0; i < t; ++i)
    positions[i] = static_cast<int32_t>(i);
  Executor run(*module_, *cache);
  auto hidden = run.encode({request}, *ids, positions, &*inputs);
  ASSERT_TRUE(hidden) << hidden.error();
  std::vector<float> expected = floats("prefill.hidden");
  std::vector<float> got(hidden->f32(), hidden->f32() + expected.size());
  double error = maxAbsDiff(got, expected, expected.size());
  EXPECT_LE(error, kHiddenTolerance);
  std::cout << "[ numerics ] " << GetParam().name
            << " prefill with an image: max |hidden error| " << error << "\n";

  // K/V as stored, where the cache keeps them.
  const char *layerPool[] = {"kv_cache_sliding", "kv_cache_sliding",
                             "kv_cache_full",    "kv_cache_sliding",
                             "kv_cache_sliding", "kv_cache_full"};
  int64_t slot[] = {0, 1, 0, 2, 3, 1};
  double kvError = 0;
  for (int layer = 0; layer < 6; ++layer) {
    int64_t pool = *cache->poolIndex(layerPool[layer]);
    const PoolSpec &spec = cache->pools()[pool];
    int64_t row = spec.numKvHeads * spec.headDim;
    std::vector<float> k(t * row), vv(t * row);
    std::vector<int32_t> pos(t);
    ASSERT_TRUE(cache->read(request, pool, slot[layer], t, k.data(), vv.data(),
                            pos.data()));
    for (const char *which : {"k", "v"}) {
      std::vector<float> want = floats(std::string("prefill.") + which +
                                       ".layer" + std::to_string(layer));
      const std::vector<float> &have = which[0] == 'k' ? k : vv;
      for (int64_t s = 0; s < t; ++s) {
        if (pos[s] < 0)
          continue; // recycled: outside every later query's window
        for (int64_t hh = 0; hh < spec.numKvHeads; ++hh)
          for (int64_t d = 0; d < spec.headDim; ++d)
            kvError = std::max(
                kvError, std::abs(double(have[s * row + hh * spec.headDim + d]) -
                                  want[(hh * t + s) * spec.headDim + d]));
      }
    }
  }
  EXPECT_LE(kvError, kHiddenTolerance);
  std::cout << "[ numerics ] " << GetParam().name
            << " prefill with an image: max |K/V error| " << kvError << "\n";
}

TEST_P(Vision, WithoutTheImageBlockTheMaskMatters) {
  // The same prompt with the image block causal (empty spans) must differ:
  // the fixture's bidirectional block is what the test above matched.
  ProcessedImage image = load("rgb_odd_101x67.png");
  std::vector<int32_t> ids = ints("prompt.ids");
  auto inputs = encoderImages(*module_, ids, {image});
  ASSERT_TRUE(inputs) << inputs.error();
  for (size_t i = 0; i < inputs->spans.size(); i += 2) {
    inputs->spans[i] = 0;
    inputs->spans[i + 1] = -1;
  }
  auto cache = module_->createCache(16, 16);
  RequestId request = *cache->admit(96);
  std::vector<int32_t> positions(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    positions[i] = static_cast<int32_t>(i);
  Executor run(*module_, *cache);
  auto hidden = run.encode({request}, ids, positions, &*inputs);
  ASSERT_TRUE(hidden) << hidden.error();
  std::vector<float> expected = floats("prefill.hidden");
  std::vector<float> got(hidden->f32(), hidden->f32() + expected.size());
  EXPECT_GT(maxAbsDiff(got, expected, expected.size()), 1e-2);
}

TEST_P(Vision, APromptWithAnImageGenerates) {
  ProcessedImage image = load("photo_320x240.jpg");
  const VisionManifest &v = *module_->manifest().vision;
  auto ids = expandImageTokens({2, 9, int32_t(v.imageTokenId), 30, 31}, v,
                               {image.softTokens});
  ASSERT_TRUE(ids) << ids.error();
  auto cache = module_->createCache(16, 32);
  Generator generator(*module_, *cache, 2);
  GenerationRequest request;
  request.prompt = *ids;
  request.images = {image};
  request.options.maxNewTokens = 16;
  request.options.maxDenoisingSteps = 4;
  request.seed = 5;
  ASSERT_TRUE(generator.submit(request));
  // A second request whose prompt does not match its images fails alone.
  GenerationRequest wrong = request;
  wrong.images.push_back(image);
  ASSERT_TRUE(generator.submit(wrong));
  std::vector<GenerationResult> results = generator.run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].error.empty()) << results[0].error;
  EXPECT_EQ(results[0].tokens.size(), 16u);
  EXPECT_NE(results[1].error.find("image block"), std::string::npos)
      << results[1].error;
}

TEST_P(Vision, BadImagesAreClearErrors) {
  const Manifest &m = module_->manifest();
  auto missing = loadPromptImage(kImages + "/no-such.png", m);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("no-such.png"), std::string::npos);
  auto text = loadPromptImage(kImages + "/expected.json", m);
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().find("not a PNG or JPEG"), std::string::npos)
      << text.error();
  auto count = expandImageTokens({1, 2, 3}, *m.vision, {60});
  ASSERT_FALSE(count);
  EXPECT_NE(count.error().find("0 image token(s)"), std::string::npos)
      << count.error();
}

INSTANTIATE_TEST_SUITE_P(Modules, Vision, testing::ValuesIn(modulesUnderTest()),
                         moduleName);

} // namespace
