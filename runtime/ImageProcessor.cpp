//===- ImageProcessor.cpp - Gemma 4 image preprocessing -------------------===//
//
// Step by step after transformers' Gemma4ImageProcessor; see the header. The
// resize follows torch's CPU kernels for uint8 antialiased bicubic
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp: HelperInterpCubic::aa_filter,
// _compute_indices_min_size_weights_aa, _compute_index_ranges_int16_weights,
// basic_loop_aa_horizontal/vertical<uint8_t>), which the AVX2 path matches.
// This file is built with -ffp-contract=off so that the weights, computed in
// double, round to the same int16 values as torch's.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/ImageProcessor.h"

#include "StrictJson.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace dgc::runtime {
namespace {

Error fail(const std::string &what) {
  return Error{"image preprocessing: " + what};
}

/// Keys' cubic convolution kernel with a = -0.5, as torch writes it.
double keysCubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0)
    return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2.0)
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

/// The taps of one axis: output i reads inputs [first[i], first[i] +
/// count[i]) with the int16 weights at weights[i * maxTaps].
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<int16_t> weights;
  int64_t maxTaps = 0;
  int precision = 0;
};

Taps computeTaps(int64_t inSize, int64_t outSize) {
  Taps taps;
  const double scale = double(inSize) / double(outSize);
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double invScale = scale >= 1.0 ? 1.0 / scale : 1.0;
  taps.maxTaps = int64_t(std::ceil(support)) * 2 + 1;
  std::vector<double> weights(size_t(outSize * taps.maxTaps), 0.0);
  taps.first.resize(outSize);
  taps.count.resize(outSize);
  double maxWeight = 0.0;
  for (int64_t i = 0; i < outSize; ++i) {
    const double center = scale * (double(i) + 0.5);
    const int64_t first = std::max(int64_t(center - support + 0.5), int64_t(0));
    int64_t count = std::min(int64_t(center + support + 0.5), inSize) - first;
    count = std::clamp(count, int64_t(0), taps.maxTaps);
    double *w = &weights[size_t(i * taps.maxTaps)];
    double total = 0.0;
    for (int64_t j = 0; j < count; ++j) {
      w[j] = keysCubic((double(j + first) - center + 0.5) * invScale);
      total += w[j];
    }
    if (total != 0.0) {
      for (int64_t j = 0; j < count; ++j) {
        w[j] /= total;
        maxWeight = std::max(maxWeight, w[j]);
      }
    }
    taps.first[i] = first;
    taps.count[i] = count;
  }
  // The most bits that keep the largest weight (times 2) inside int16.
  int precision = 0;
  for (; precision < 22; ++precision)
    if (int(0.5 + maxWeight * double(1 << (precision + 1))) >= (1 << 15))
      break;
  taps.precision = precision;
  taps.weights.resize(weights.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    double v = weights[k] * double(1 << precision);
    taps.weights[k] = int16_t(v < 0 ? int(-0.5 + v) : int(0.5 + v));
  }
  return taps;
}

uint8_t roundToByte(int64_t sum, int precision) {
  return uint8_t(std::clamp<int64_t>(sum >> precision, 0, 255));
}

/// The horizontal pass over [height][width][3] bytes.
std::vector<uint8_t> resampleWidth(const std::vector<uint8_t> &in,
                                   int64_t width, int64_t height,
                                   int64_t outWidth) {
  const Taps taps = computeTaps(width, outWidth);
  std::vector<uint8_t> out(size_t(outWidth * height * 3));
  const int64_t half = int64_t(1) << (taps.precision - 1);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t *row = &in[size_t(y * width * 3)];
    for (int64_t x = 0; x < outWidth; ++x) {
      const int16_t *k = &taps.weights[size_t(x * taps.maxTaps)];
      const uint8_t *src = row + taps.first[x] * 3;
      for (int c = 0; c < 3; ++c) {
        int64_t sum = half;
        for (int64_t j = 0; j < taps.count[x]; ++j)
          sum += int64_t(src[j * 3 + c]) * k[j];
        out[size_t((y * outWidth + x) * 3 + c)] =
            roundToByte(sum, taps.precision);
      }
    }
  }
  return out;
}

/// The vertical pass.
std::vector<uint8_t> resampleHeight(const std::vector<uint8_t> &in,
                                    int64_t width, int64_t height,
                                    int64_t outHeight) {
  const Taps taps = computeTaps(height, outHeight);
  std::vector<uint8_t> out(size_t(width * outHeight * 3));
  const int64_t half = int64_t(1) << (taps.precision - 1);
  const int64_t stride = width * 3;
  for (int64_t y = 0; y < outHeight; ++y) {
    const int16_t *k = &taps.weights[size_t(y * taps.maxTaps)];
    const uint8_t *top = &in[size_t(taps.first[y] * stride)];
    uint8_t *dst = &out[size_t(y * stride)];
    for (int64_t i = 0; i < stride; ++i) {
      int64_t sum = half;
      for (int64_t j = 0; j < taps.count[y]; ++j)
        sum += int64_t(top[j * stride + i]) * k[j];
      dst[i] = roundToByte(sum, taps.precision);
    }
  }
  return out;
}

bool isPositiveInteger(const nlohmann::json &value) {
  return value.is_number_integer() && value.get<int64_t>() > 0;
}

} // namespace

Result<VisionPreprocessing> validate(const VisionPreprocessing &params) {
  static const int64_t kBudgets[] = {70, 140, 280, 560, 1120};
  if (std::find(std::begin(kBudgets), std::end(kBudgets),
                params.maxSoftTokens) == std::end(kBudgets))
    return fail("max_soft_tokens " + std::to_string(params.maxSoftTokens) +
                " is not one of 70, 140, 280, 560, 1120");
  // Far above any real tower (16 and 3), low enough that no size overflows.
  if (params.patchSize < 1 || params.patchSize > 256)
    return fail("patch_size " + std::to_string(params.patchSize) +
                " is outside [1, 256]");
  if (params.poolingKernelSize < 1 || params.poolingKernelSize > 16)
    return fail("pooling_kernel_size " +
                std::to_string(params.poolingKernelSize) +
                " is outside [1, 16]");
  if (params.maxPatches() * params.patchDim() > (int64_t(1) << 28))
    return fail(std::to_string(params.maxPatches()) + " patches of " +
                std::to_string(params.patchDim()) +
                " values are more than 2^28 values");
  return params;
}

Result<VisionPreprocessing>
visionPreprocessingFromConfig(std::string_view configJson,
                              int64_t maxSoftTokens) {
  std::string problem;
  std::optional<nlohmann::json> doc =
      parseStrictJson(configJson, 64, "key", problem);
  if (!doc)
    return fail("config: " + problem);
  if (!doc->is_object() || !doc->contains("vision_config") ||
      !(*doc)["vision_config"].is_object())
    return fail("config has no vision_config object");
  const nlohmann::json &vision = (*doc)["vision_config"];
  VisionPreprocessing params;
  for (auto [key, field] :
       {std::pair{"patch_size", &params.patchSize},
        {"pooling_kernel_size", &params.poolingKernelSize}}) {
    if (!vision.contains(key) || !isPositiveInteger(vision[key]))
      return fail(std::string("vision_config.") + key +
                  " is missing or not a positive integer");
    *field = vision[key].get<int64_t>();
  }
  params.maxSoftTokens = maxSoftTokens;
  return validate(params);
}

Result<std::pair<int64_t, int64_t>>
gemma4TargetSize(int64_t height, int64_t width,
                 const VisionPreprocessing &params) {
  auto valid = validate(params);
  if (!valid)
    return Error{valid.error()};
  std::string size = std::to_string(height) + "x" + std::to_string(width);
  if (height <= 0 || width <= 0 || height > (int64_t(1) << 24) ||
      width > (int64_t(1) << 24))
    return fail("cannot resize an image of " + size);
  // Python's int / int is the correctly rounded quotient; so is this, as
  // both operands are exact in double.
  const int64_t targetPixels =
      params.maxPatches() * params.patchSize * params.patchSize;
  const double factor =
      std::sqrt(double(targetPixels) / double(height * width));
  const int64_t side = params.patchSize * params.poolingKernelSize;
  int64_t targetHeight =
      int64_t(std::floor(factor * double(height) / double(side))) * side;
  int64_t targetWidth =
      int64_t(std::floor(factor * double(width) / double(side))) * side;
  if (targetHeight == 0 && targetWidth == 0)
    return fail("cannot resize " + size + " to a multiple of " +
                std::to_string(side));
  const int64_t maxSideLength = params.maxSoftTokens * side;
  if (targetHeight == 0) {
    targetHeight = side;
    targetWidth =
        std::min(int64_t(std::floor(double(width) / double(height))) * side,
                 maxSideLength);
  } else if (targetWidth == 0) {
    targetWidth = side;
    targetHeight =
        std::min(int64_t(std::floor(double(height) / double(width))) * side,
                 maxSideLength);
  }
  if (targetHeight * targetWidth > targetPixels || targetHeight <= 0 ||
      targetWidth <= 0)
    return fail("resizing " + size + " to " + std::to_string(targetHeight) +
                "x" + std::to_string(targetWidth) + " exceeds " +
                std::to_string(params.maxPatches()) + " patches");
  return std::pair{targetHeight, targetWidth};
}

std::vector<uint8_t> resizeBicubicAntialiased(const std::vector<uint8_t> &rgb,
                                              int64_t width, int64_t height,
                                              int64_t outWidth,
                                              int64_t outHeight) {
  // torch resizes the last (contiguous) axis first, each pass to uint8.
  std::vector<uint8_t> out = rgb;
  if (outWidth != width)
    out = resampleWidth(out, width, height, outWidth);
  if (outHeight != height)
    out = resampleHeight(out, outWidth, height, outHeight);
  return out;
}

Result<ProcessedImage> preprocessImage(const Image &image,
                                       const VisionPreprocessing &params) {
  auto target = gemma4TargetSize(image.height, image.width, params);
  if (!target)
    return Error{target.error()};
  const size_t pixels = size_t(image.width * image.height);
  if (image.rgb.size() != pixels * 3 ||
      (image.hasAlpha() && image.alpha.size() != pixels))
    return fail("the pixel buffers do not hold " + std::to_string(image.width) +
                " x " + std::to_string(image.height) + " pixels");
  const auto [height, width] = *target;
  std::vector<uint8_t> rgb = resizeBicubicAntialiased(
      compositeOnWhite(image), image.width, image.height, width, height);

  const int64_t p = params.patchSize;
  ProcessedImage out;
  out.resizedWidth = width;
  out.resizedHeight = height;
  out.maxPatches = params.maxPatches();
  out.patchDim = params.patchDim();
  const int64_t columns = width / p;
  out.numPatches = columns * (height / p);
  out.softTokens =
      out.numPatches / (params.poolingKernelSize * params.poolingKernelSize);
  out.patches.assign(size_t(out.maxPatches * out.patchDim), 0.0f);
  out.positions.assign(size_t(out.maxPatches * 2), -1);
  // torch multiplies uint8 by the float32 rounding of the Python 1/255.
  const float scale = float(1.0 / 255.0);
  for (int64_t patch = 0; patch < out.numPatches; ++patch) {
    const int64_t px = patch % columns, py = patch / columns;
    float *dst = &out.patches[size_t(patch * out.patchDim)];
    for (int64_t dy = 0; dy < p; ++dy) {
      const uint8_t *src = &rgb[size_t(((py * p + dy) * width + px * p) * 3)];
      for (int64_t i = 0; i < p * 3; ++i)
        *dst++ = float(src[i]) * scale;
    }
    out.positions[size_t(2 * patch)] = int32_t(px);
    out.positions[size_t(2 * patch + 1)] = int32_t(py);
  }
  return out;
}

} // namespace dgc::runtime
