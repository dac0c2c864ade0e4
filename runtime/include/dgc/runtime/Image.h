//===- Image.h - PNG and JPEG decoding for image prompts --------*- C++ -*-===//
//
// Decodes PNG (libpng) and JPEG (libjpeg) files to 8-bit RGB the way the
// Python side sees them: `rgb` equals PIL's `Image.open(f).convert("RGB")`
// byte for byte (16-bit samples keep their high byte, except 16-bit
// grayscale, which PIL clips to 255; palette indices past the palette are
// black; CMYK JPEGs are read as Adobe-inverted and converted like PIL). EXIF
// orientation is not applied, as `Image.open` does not apply it.
//
// Transparency is kept apart: `alpha` is PIL's `convert("RGBA")` alpha for
// files with an alpha channel or a tRNS chunk, and compositeOnWhite() blends
// it the way transformers' `convert_to_rgb` does before preprocessing.
//
// Nothing here throws and no input crashes it: every failure (unreadable or
// empty file, unknown format, truncated or corrupt data, dimensions over the
// limits, checked before any pixel buffer is allocated) is a Result whose
// message names the file and the problem.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_IMAGE_H
#define DGC_RUNTIME_IMAGE_H

#include "dgc/runtime/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dgc::runtime {

/// A decoded image, rows top to bottom.
struct Image {
  int64_t width = 0;
  int64_t height = 0;
  /// [height][width][3] bytes: PIL's `convert("RGB")`.
  std::vector<uint8_t> rgb;
  /// [height][width] bytes: PIL's `convert("RGBA")` alpha; empty when the file
  /// has neither an alpha channel nor a tRNS chunk.
  std::vector<uint8_t> alpha;

  bool hasAlpha() const { return !alpha.empty(); }
};

/// What decoding refuses, before allocating pixels.
struct ImageLimits {
  int64_t maxSide = 16384;
  int64_t maxPixels = int64_t(64) << 20;
  int64_t maxFileBytes = int64_t(256) << 20;
};

/// Reads and decodes the file at `path`; messages start with `path`.
Result<Image> decodeImage(const std::string &path,
                          const ImageLimits &limits = {});

/// Decodes a PNG or JPEG held in memory (the format is told by its magic
/// bytes); messages start with `name`.
Result<Image> decodeImageBytes(const uint8_t *data, size_t size,
                               const std::string &name,
                               const ImageLimits &limits = {});

/// [height][width][3] RGB with the alpha blended onto white exactly as PIL's
/// `Image.alpha_composite(white, im)` rounds it: what transformers'
/// `convert_to_rgb` hands the image processor. `image.rgb` when opaque.
std::vector<uint8_t> compositeOnWhite(const Image &image);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_IMAGE_H
