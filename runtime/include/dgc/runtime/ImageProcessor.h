//===- ImageProcessor.h - Gemma 4 image preprocessing -----------*- C++ -*-===//
//
// Turns a decoded image into the `@vision` graph's inputs exactly as
// transformers' Gemma4ImageProcessor (models/gemma4/image_processing_gemma4.py,
// the torchvision backend AutoImageProcessor picks) does:
//
//  1. convert_to_rgb: alpha composited onto white (compositeOnWhite);
//  2. get_aspect_ratio_preserving_size: the largest size with both sides
//     multiples of patch x pooling kernel and at most max_soft_tokens x k^2
//     patches (a side that rounds to 0 becomes one multiple);
//  3. torchvision resize(BICUBIC, antialias=True) on uint8, which runs
//     torch's separable uint8 antialiased bicubic (Keys a = -0.5, support 2 x
//     the downscale factor, int16 fixed-point weights, horizontal then
//     vertical pass, each rounded and clamped to uint8); skipped when the
//     size already fits;
//  4. rescale by 1/255 in float32, no normalisation;
//  5. convert_image_to_patches: p x p patches in row-major patch order, each
//     flattened as (row, column, channel);
//  6. positions (x, y) per patch; pad_along_first_dim to max_patches with
//     zero pixels and position -1.
//
// Nothing here throws; bad parameters or images come back as errors.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_IMAGEPROCESSOR_H
#define DGC_RUNTIME_IMAGEPROCESSOR_H

#include "dgc/runtime/Image.h"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace dgc::runtime {

/// The processor's parameters. patchSize and poolingKernelSize come from the
/// model's `vision_config`; maxSoftTokens is the processor's budget per image.
struct VisionPreprocessing {
  int64_t patchSize = 16;
  int64_t poolingKernelSize = 3;
  /// One of 70, 140, 280, 560, 1120 (transformers refuses others).
  int64_t maxSoftTokens = 280;

  int64_t maxPatches() const {
    return maxSoftTokens * poolingKernelSize * poolingKernelSize;
  }
  /// Values per patch: 3 x patchSize^2.
  int64_t patchDim() const { return 3 * patchSize * patchSize; }
};

/// Reads `vision_config.patch_size` and `pooling_kernel_size` from a model's
/// config.json text; checks all three values.
Result<VisionPreprocessing>
visionPreprocessingFromConfig(std::string_view configJson,
                              int64_t maxSoftTokens = 280);

/// Checks the values (positive, budget one of the supported ones, sizes that
/// cannot overflow).
Result<VisionPreprocessing> validate(const VisionPreprocessing &params);

/// One image, ready for `@vision`: row i of `patches` and `positions` is
/// patch i; rows from numPatches on are padding.
struct ProcessedImage {
  int64_t numPatches = 0;
  /// numPatches / poolingKernelSize^2: the image's placeholder tokens.
  int64_t softTokens = 0;
  int64_t maxPatches = 0;
  int64_t patchDim = 0;
  int64_t resizedWidth = 0;
  int64_t resizedHeight = 0;
  /// [maxPatches][patchDim] in [0, 1]; padding rows are 0.
  std::vector<float> patches;
  /// [maxPatches][2]: (x, y) in patches; padding rows are (-1, -1).
  std::vector<int32_t> positions;
};

/// The size get_aspect_ratio_preserving_size gives: {height, width}.
Result<std::pair<int64_t, int64_t>>
gemma4TargetSize(int64_t height, int64_t width,
                 const VisionPreprocessing &params);

/// Resizes [height][width][3] uint8 RGB like torchvision's uint8
/// resize(BICUBIC, antialias=True) on the CPU.
std::vector<uint8_t> resizeBicubicAntialiased(const std::vector<uint8_t> &rgb,
                                              int64_t width, int64_t height,
                                              int64_t outWidth,
                                              int64_t outHeight);

Result<ProcessedImage> preprocessImage(const Image &image,
                                       const VisionPreprocessing &params);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_IMAGEPROCESSOR_H
