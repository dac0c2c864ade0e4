//===- Image.cpp - PNG and JPEG decoding ----------------------------------===//
//
// Reads the file, tells the format by its magic bytes and dispatches to
// ImagePng.cpp or ImageJpeg.cpp; blends alpha like PIL.
//
//===----------------------------------------------------------------------===//

#include "ImageDecoders.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

namespace dgc::runtime {
namespace detail {

Error problem(const std::string &name, const std::string &what) {
  return Error{name + ": " + what};
}

std::string checkDimensions(int64_t width, int64_t height,
                            const ImageLimits &limits) {
  std::string size = std::to_string(width) + " x " + std::to_string(height);
  if (width <= 0 || height <= 0)
    return "image has no pixels (" + size + ")";
  // Both sides are below 2^32, so the product cannot overflow.
  if (width > limits.maxSide || height > limits.maxSide ||
      width * height > limits.maxPixels)
    return "image is " + size + " pixels, over the limit of " +
           std::to_string(limits.maxSide) + " pixels per side and " +
           std::to_string(limits.maxPixels) + " pixels in all";
  return {};
}

} // namespace detail

using detail::problem;

Result<Image> decodeImageBytes(const uint8_t *data, size_t size,
                               const std::string &name,
                               const ImageLimits &limits) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size == 0 || !data)
    return problem(name, "empty file (0 bytes)");
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return detail::decodeJpeg(data, size, name, limits);
  if (std::memcmp(data, kPng, std::min<size_t>(size, 8)) == 0)
    return size < 8 ? problem(name, "truncated PNG file (the data ends early)")
                    : detail::decodePng(data, size, name, limits);
  return problem(name, "not a PNG or JPEG image");
}

Result<Image> decodeImage(const std::string &path, const ImageLimits &limits) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    return problem(path, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return problem(path, "not a regular file");
  if (info.st_size > limits.maxFileBytes)
    return problem(path, "file is " + std::to_string(info.st_size) +
                             " bytes, over the limit of " +
                             std::to_string(limits.maxFileBytes));
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    return problem(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes(size_t(info.st_size));
  size_t got =
      bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), file);
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed || got != bytes.size())
    return problem(path, "cannot read the whole file");
  return decodeImageBytes(bytes.data(), bytes.size(), path, limits);
}

std::vector<uint8_t> compositeOnWhite(const Image &image) {
  if (!image.hasAlpha())
    return image.rgb;
  std::vector<uint8_t> out(image.rgb.size());
  // PIL's ImagingAlphaComposite with an opaque white destination: 7 extra
  // bits of precision and its shift-based division by 255.
  auto divide255 = [](uint32_t v) { return ((v >> 8) + v) >> 8; };
  for (size_t i = 0; i < image.alpha.size(); ++i) {
    uint32_t a = image.alpha[i];
    for (int c = 0; c < 3; ++c) {
      if (a == 0) {
        out[3 * i + c] = 255;
        continue;
      }
      uint32_t outAlpha255 = a * 255 + 255 * (255 - a);
      uint32_t coef1 = a * 255 * 255 * 128 / outAlpha255;
      uint32_t coef2 = 255 * 128 - coef1;
      uint32_t mixed = image.rgb[3 * i + c] * coef1 + 255 * coef2;
      out[3 * i + c] = uint8_t(divide255(mixed + (0x80 << 7)) >> 7);
    }
  }
  return out;
}

} // namespace dgc::runtime