//===- ImageDecoders.h - The decoders behind Image.h ------------*- C++ -*-===//
//
// Internal to the runtime: Image.cpp tells the format by its magic bytes and
// hands the bytes to one of these.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_IMAGEDECODERS_H
#define DGC_RUNTIME_IMAGEDECODERS_H

#include "dgc/runtime/Image.h"

namespace dgc::runtime::detail {

/// `name: what`.
Error problem(const std::string &name, const std::string &what);

/// Empty when a `width` x `height` image may be decoded under `limits`, else
/// what is wrong with it.
std::string checkDimensions(int64_t width, int64_t height,
                            const ImageLimits &limits);

Result<Image> decodePng(const uint8_t *data, size_t size,
                        const std::string &name, const ImageLimits &limits);
Result<Image> decodeJpeg(const uint8_t *data, size_t size,
                         const std::string &name, const ImageLimits &limits);

} // namespace dgc::runtime::detail

#endif // DGC_RUNTIME_IMAGEDECODERS_H
