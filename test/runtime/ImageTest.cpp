//===- ImageTest.cpp - Decoding and preprocessing against PIL/transformers ===//
//
// test/fixtures/images holds small PNG and JPEG files and what PIL decoded
// and transformers' Gemma4ImageProcessor (tiny config: patch 4, pooling 3;
// max_soft_tokens 70 and 140; also the 26B-A4B's patch 16 at 70) made of them
// (scripts/fixtures/make_image_fixtures.py). Decoding must match PIL byte for
// byte; preprocessing must give the same counts, sizes and positions and the
// same patches (exact: hashes for every case, full rows for three, where the
// bound 1/255 of one uint8 step is the documented tolerance). Bad files must
// come back as errors naming the file and the problem.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Image.h"
#include "dgc/runtime/ImageProcessor.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

const std::string kDir = DGC_IMAGE_FIXTURES;

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const json &expected() {
  static const json doc = json::parse(readFile(kDir + "/expected.json"));
  return doc;
}

const SafetensorsFile &tensors() {
  static SafetensorsFile file = [] {
    auto opened = SafetensorsFile::open(kDir + "/expected.safetensors");
    if (!opened) {
      std::fprintf(stderr, "%s\n", opened.error().c_str());
      std::abort();
    }
    return std::move(*opened);
  }();
  return file;
}

std::string fnv1a64(const uint8_t *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i)
    h = (h ^ data[i]) * 0x100000001b3ull;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", (unsigned long long)h);
  return text;
}

std::string fnv1a64(const std::vector<uint8_t> &bytes) {
  return fnv1a64(bytes.data(), bytes.size());
}

/// The largest |a - b| over two byte arrays of the same size.
int maxByteDiff(const uint8_t *a, const uint8_t *b, size_t size) {
  int most = 0;
  for (size_t i = 0; i < size; ++i)
    most = std::max(most, std::abs(int(a[i]) - int(b[i])));
  return most;
}

TEST(Image, DecodesLikePil) {
  ASSERT_GE(expected()["images"].size(), 20u);
  for (const auto &[name, want] : expected()["images"].items()) {
    SCOPED_TRACE(name);
    Result<Image> image = decodeImage(kDir + "/" + name);
    ASSERT_TRUE(image) << image.error();
    EXPECT_EQ(image->width, want["width"].get<int64_t>());
    EXPECT_EQ(image->height, want["height"].get<int64_t>());
    EXPECT_EQ(fnv1a64(image->rgb), want["rgb_fnv1a64"]);
    if (auto rgb = tensors().find(name + ".rgb")) {
      ASSERT_EQ(rgb->byteSize(), image->rgb.size());
      // Exact for PNG; libjpeg-turbo here and in PIL's wheel both use the
      // default islow IDCT and fancy upsampling, which measured exact too.
      EXPECT_EQ(maxByteDiff(rgb->data, image->rgb.data(), image->rgb.size()),
                0);
    }
    ASSERT_EQ(image->hasAlpha(), want["has_alpha"].get<bool>());
    if (!image->hasAlpha())
      continue;
    if (auto alpha = tensors().find(name + ".alpha")) {
      ASSERT_EQ(alpha->byteSize(), image->alpha.size());
      EXPECT_EQ(
          maxByteDiff(alpha->data, image->alpha.data(), image->alpha.size()),
          0);
    }
    EXPECT_EQ(fnv1a64(compositeOnWhite(*image)), want["composited_fnv1a64"]);
  }
}

void checkProcessed(const std::string &name, const json &want,
                    const ProcessedImage &got, int64_t patchSize,
                    const std::string &fullKey) {
  EXPECT_EQ(got.numPatches, want["num_patches"].get<int64_t>());
  EXPECT_EQ(got.softTokens, want["soft_tokens"].get<int64_t>());
  EXPECT_EQ(got.maxPatches, want["max_patches"].get<int64_t>());
  EXPECT_EQ(got.resizedWidth, want["resized_width"].get<int64_t>());
  EXPECT_EQ(got.resizedHeight, want["resized_height"].get<int64_t>());
  ASSERT_EQ(got.patches.size(), size_t(got.maxPatches * got.patchDim));
  // Every value is k/255 in float32, as torch's uint8 * (1/255) gives.
  std::vector<uint8_t> bytes(size_t(got.numPatches * got.patchDim));
  const float scale = float(1.0 / 255.0);
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = uint8_t(std::lround(got.patches[i] * 255.0f));
    ASSERT_EQ(got.patches[i], float(bytes[i]) * scale) << "value " << i;
  }
  EXPECT_EQ(fnv1a64(bytes), want["patches_u8_fnv1a64"]);
  for (size_t i = bytes.size(); i < got.patches.size(); ++i)
    ASSERT_EQ(got.patches[i], 0.0f) << "padding value " << i;
  const int64_t columns = got.resizedWidth / patchSize;
  for (int64_t i = 0; i < got.maxPatches; ++i) {
    bool real = i < got.numPatches;
    ASSERT_EQ(got.positions[2 * i], real ? i % columns : -1) << i;
    ASSERT_EQ(got.positions[2 * i + 1], real ? i / columns : -1) << i;
  }
  auto full = tensors().find(fullKey + ".patches_u8");
  if (!full)
    return;
  ASSERT_EQ(full->byteSize(), bytes.size());
  int diff = maxByteDiff(full->data, bytes.data(), bytes.size());
  EXPECT_LE(diff, 1) << "max |diff| " << diff << "/255";
  EXPECT_EQ(diff, 0) << "measured exact so far";
  auto positions = tensors().find(fullKey + ".positions");
  ASSERT_TRUE(positions);
  const auto *pos = reinterpret_cast<const int32_t *>(positions->data);
  for (int64_t i = 0; i < got.numPatches * 2; ++i)
    ASSERT_EQ(pos[i], got.positions[i]) << name << " position " << i;
}

TEST(ImageProcessor, MatchesTransformersGemma4ImageProcessor) {
  auto config = readFile(std::string(DGC_CONFIGS) + "/tiny/config.json");
  for (const auto &[name, want] : expected()["images"].items()) {
    SCOPED_TRACE(name);
    Result<Image> image = decodeImage(kDir + "/" + name);
    ASSERT_TRUE(image) << image.error();
    for (int64_t budget : {70, 140}) {
      SCOPED_TRACE(budget);
      auto params = visionPreprocessingFromConfig(
          std::string_view((const char *)config.data(), config.size()), budget);
      ASSERT_TRUE(params) << params.error();
      Result<ProcessedImage> got = preprocessImage(*image, *params);
      ASSERT_TRUE(got) << got.error();
      checkProcessed(name, want["processed"][std::to_string(budget)], *got,
                     params->patchSize, name + "." + std::to_string(budget));
    }
    VisionPreprocessing real; // 26B-A4B: patch 16, pooling 3
    real.maxSoftTokens = 70;
    Result<ProcessedImage> got = preprocessImage(*image, real);
    ASSERT_TRUE(got) << got.error();
    checkProcessed(name, want["processed_real_config_70"], *got, 16, "");
  }
}

TEST(ImageProcessor, ConfigAndParameterErrors) {
  auto real = readFile(std::string(DGC_CONFIGS) +
                       "/diffusiongemma-26b-a4b/config.json");
  auto params = visionPreprocessingFromConfig(
      std::string_view((const char *)real.data(), real.size()));
  ASSERT_TRUE(params) << params.error();
  EXPECT_EQ(params->patchSize, 16);
  EXPECT_EQ(params->poolingKernelSize, 3);
  EXPECT_EQ(params->maxSoftTokens, 280);
  EXPECT_EQ(params->maxPatches(), 2520);
  EXPECT_EQ(params->patchDim(), 768);

  auto bad = visionPreprocessingFromConfig("{\"vision_config\": {}}");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("patch_size"), std::string::npos) << bad.error();
  EXPECT_FALSE(visionPreprocessingFromConfig("{}"));
  EXPECT_FALSE(visionPreprocessingFromConfig("not json"));
  VisionPreprocessing odd;
  odd.maxSoftTokens = 100;
  auto refused = validate(odd);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("100"), std::string::npos);

  Image broken;
  broken.width = 4;
  broken.height = 4;
  broken.rgb.resize(5);
  auto out = preprocessImage(broken, VisionPreprocessing());
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("4 x 4"), std::string::npos) << out.error();
  EXPECT_FALSE(preprocessImage(Image(), VisionPreprocessing()));
}

/// The error for `bytes` decoded as `name`, checked to name the file.
std::string errorFor(const std::vector<uint8_t> &bytes, const std::string &name,
                     const ImageLimits &limits = {}) {
  Result<Image> image =
      decodeImageBytes(bytes.data(), bytes.size(), name, limits);
  EXPECT_FALSE(image) << name << " decoded";
  EXPECT_EQ(image.error().rfind(name + ": ", 0), 0u) << image.error();
  return image.error();
}

void expectMention(const std::string &message, const std::string &part) {
  EXPECT_NE(message.find(part), std::string::npos) << message;
}

/// A PNG with this IHDR, a valid CRC and no image data.
std::vector<uint8_t> pngHeader(uint32_t width, uint32_t height) {
  std::vector<uint8_t> chunk = {'I', 'H', 'D', 'R'};
  for (uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8)
      chunk.push_back(uint8_t(v >> s));
  chunk.insert(chunk.end(), {8, 2, 0, 0, 0});
  uint32_t crc = 0xffffffffu;
  for (uint8_t b : chunk) {
    crc ^= b;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  crc ^= 0xffffffffu;
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (uint8_t b : {0, 0, 0, 13})
    out.push_back(b);
  for (uint8_t b : chunk)
    out.push_back(b);
  for (int s = 24; s >= 0; s -= 8)
    out.push_back(uint8_t(crc >> s));
  return out;
}

TEST(Image, BadFilesAreClearErrors) {
  auto png = readFile(kDir + "/rgb_odd_101x67.png");
  auto jpeg = readFile(kDir + "/photo_320x240.jpg");
  auto progressive = readFile(kDir + "/progressive_97x61.jpg");
  expectMention(
      errorFor({png.begin(), png.begin() + png.size() / 2}, "half.png"),
      "truncated PNG");
  expectMention(
      errorFor({jpeg.begin(), jpeg.begin() + jpeg.size() / 2}, "half.jpg"),
      "truncated JPEG");
  expectMention(errorFor({progressive.begin(),
                          progressive.begin() + progressive.size() / 2},
                         "half-progressive.jpg"),
                "truncated JPEG");
  expectMention(errorFor({png.begin(), png.begin() + 5}, "five.png"),
                "truncated PNG");
  expectMention(errorFor(pngHeader(100000, 100000), "huge.png"),
                "100000 x 100000 pixels, over the limit of 16384");
  expectMention(errorFor(pngHeader(0, 7), "zero.png"), "no pixels (0 x 7)");

  // A JPEG whose SOF claims 60000 x 60000.
  std::vector<uint8_t> big = jpeg;
  for (size_t i = 2; i + 9 < big.size(); ++i)
    if (big[i] == 0xFF && big[i + 1] == 0xC0) {
      big[i + 5] = big[i + 7] = 0xEA;
      big[i + 6] = big[i + 8] = 0x60;
      break;
    }
  expectMention(errorFor(big, "big.jpg"), "60000 x 60000 pixels, over");
  ImageLimits small;
  small.maxSide = 100;
  expectMention(errorFor(jpeg, "limited.jpg", small), "320 x 240 pixels");

  std::vector<uint8_t> corrupt = png;
  corrupt[30] ^= 0x55; // the CRC of IHDR
  expectMention(errorFor(corrupt, "crc.png"), "invalid PNG");
  std::string text = "hello, I am not an image\n";
  expectMention(errorFor({text.begin(), text.end()}, "text.png"),
                "not a PNG or JPEG image");
  expectMention(errorFor({}, "nothing.png"), "empty file");

  const auto dir = std::filesystem::temp_directory_path() /
                   ("dgc-image-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string empty = (dir / "empty.png").string();
  std::ofstream(empty).close();
  Result<Image> none = decodeImage(empty);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), empty + ": empty file (0 bytes)");
  const std::string missing = (dir / "missing.png").string();
  Result<Image> absent = decodeImage(missing);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error(),
            missing + ": cannot open: No such file or directory");
  Result<Image> folder = decodeImage(dir.string());
  ASSERT_FALSE(folder);
  expectMention(folder.error(), "not a regular file");
  std::filesystem::remove_all(dir);
}

TEST(Image, EveryTruncationIsAnErrorOrAnImage) {
  for (const char *name : {"tiny_7x5.png", "palette4_interlaced_40x30.png",
                           "gray_48x36.jpg", "progressive_97x61.jpg"}) {
    auto bytes = readFile(kDir + "/" + name);
    for (size_t size = 0; size < bytes.size(); ++size) {
      Result<Image> image = decodeImageBytes(bytes.data(), size, name);
      if (!image) {
        ASSERT_EQ(image.error().rfind(std::string(name) + ": ", 0), 0u);
      }
    }
  }
}

} // namespace
