//===- ImagePng.cpp - PNG decoding with libpng ----------------------------===//
//
// libpng reports errors by longjmp. Every libpng call that can fail is
// wrapped in a small function that calls setjmp itself and holds only plain
// data, so a longjmp never skips a destructor; the buffers belong to the
// callers of those wrappers.
//
//===----------------------------------------------------------------------===//

#include "ImageDecoders.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <png.h>

namespace dgc::runtime::detail {
namespace {

struct PngSource {
  const uint8_t *data;
  size_t size;
  size_t offset;
  bool truncated;
  char message[256];
};

void pngOnError(png_structp png, png_const_charp message) {
  auto *source = static_cast<PngSource *>(png_get_error_ptr(png));
  std::snprintf(source->message, sizeof(source->message), "%s", message);
  png_longjmp(png, 1);
}

// PIL does not complain about what libpng only warns about.
void pngOnWarning(png_structp, png_const_charp) {}

void pngOnRead(png_structp png, png_bytep out, size_t count) {
  auto *source = static_cast<PngSource *>(png_get_io_ptr(png));
  if (source->size - source->offset < count) {
    source->truncated = true;
    png_error(png, "truncated");
  }
  std::memcpy(out, source->data + source->offset, count);
  source->offset += count;
}

bool pngReadInfo(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_info(png, info);
  return true;
}

bool pngUpdateInfo(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_update_info(png, info);
  return true;
}

bool pngReadImage(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_image(png, rows);
  return true;
}

/// What turns one raw row (samples unpacked to bytes, 16-bit ones big-endian)
/// into PIL's RGB and RGBA alpha.
struct PngLayout {
  int colorType = 0;
  int depth = 8;
  uint8_t palette[256][3] = {};
  uint8_t paletteAlpha[256];
  bool transparent = false; // a tRNS chunk
  uint32_t key[3] = {};     // tRNS grey or RGB value, as PIL compares it
};

void convertPngRow(const PngLayout &layout, const uint8_t *raw, int64_t width,
                   uint8_t *rgb, uint8_t *alpha) {
  const bool wide = layout.depth == 16;
  const int step = wide ? 2 : 1; // bytes per sample; PIL keeps the high byte
  for (int64_t x = 0; x < width; ++x, rgb += 3) {
    uint8_t a = 255;
    switch (layout.colorType) {
    case PNG_COLOR_TYPE_GRAY: {
      uint32_t v = wide ? (uint32_t(raw[2 * x]) << 8 | raw[2 * x + 1]) : raw[x];
      if (wide) // PIL's I;16 -> RGB clips instead of scaling.
        v = std::min<uint32_t>(v, 255);
      else if (layout.depth < 8)
        v = v * 255 / ((1u << layout.depth) - 1);
      rgb[0] = rgb[1] = rgb[2] = uint8_t(v);
      if (layout.transparent && v == layout.key[0])
        a = 0;
      break;
    }
    case PNG_COLOR_TYPE_RGB:
      for (int c = 0; c < 3; ++c)
        rgb[c] = raw[(3 * x + c) * step];
      if (layout.transparent && rgb[0] == layout.key[0] &&
          rgb[1] == layout.key[1] && rgb[2] == layout.key[2])
        a = 0;
      break;
    case PNG_COLOR_TYPE_PALETTE:
      std::memcpy(rgb, layout.palette[raw[x]], 3);
      a = layout.paletteAlpha[raw[x]];
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      rgb[0] = rgb[1] = rgb[2] = raw[2 * x * step];
      a = raw[(2 * x + 1) * step];
      break;
    default: // PNG_COLOR_TYPE_RGB_ALPHA
      for (int c = 0; c < 3; ++c)
        rgb[c] = raw[(4 * x + c) * step];
      a = raw[(4 * x + 3) * step];
      break;
    }
    if (alpha)
      alpha[x] = a;
  }
}

} // namespace

Result<Image> decodePng(const uint8_t *data, size_t size,
                        const std::string &name, const ImageLimits &limits) {
  // IHDR must come first: check its size before libpng reads any further.
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return int64_t(data[at]) << 24 | data[at + 1] << 16 | data[at + 2] << 8 |
             data[at + 3];
    };
    if (std::string bad = checkDimensions(be32(16), be32(20), limits);
        !bad.empty())
      return problem(name, bad);
  }
  PngSource source{data, size, 0, false, {}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source,
                                           pngOnError, pngOnWarning);
  if (!png)
    return problem(name, "cannot create a PNG reader");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp *png;
    png_infop *info;
    ~Guard() { png_destroy_read_struct(png, info, nullptr); }
  } guard{&png, &info};
  if (!info)
    return problem(name, "cannot create a PNG reader");
  png_set_read_fn(png, &source, pngOnRead);
  auto failure = [&] {
    return source.truncated
               ? problem(name, "truncated PNG file (the data ends early)")
               : problem(name, std::string("invalid PNG: ") + source.message);
  };

  if (!pngReadInfo(png, info))
    return failure();
  PngLayout layout;
  png_uint_32 width = 0, height = 0;
  int interlace = 0;
  png_get_IHDR(png, info, &width, &height, &layout.depth, &layout.colorType,
               &interlace, nullptr, nullptr);
  if (std::string bad = checkDimensions(width, height, limits); !bad.empty())
    return problem(name, bad);

  // PIL: palette entries past the PLTE are black, past the tRNS opaque.
  png_colorp palette = nullptr;
  int paletteSize = 0;
  if (png_get_PLTE(png, info, &palette, &paletteSize)) {
    for (int i = 0; i < std::min(paletteSize, 256); ++i) {
      layout.palette[i][0] = palette[i].red;
      layout.palette[i][1] = palette[i].green;
      layout.palette[i][2] = palette[i].blue;
    }
  }
  std::fill(std::begin(layout.paletteAlpha), std::end(layout.paletteAlpha),
            255);
  png_bytep trnsAlpha = nullptr;
  int trnsCount = 0;
  png_color_16p trnsColor = nullptr;
  if (png_get_valid(png, info, PNG_INFO_tRNS) &&
      png_get_tRNS(png, info, &trnsAlpha, &trnsCount, &trnsColor)) {
    layout.transparent = true;
    if (layout.colorType == PNG_COLOR_TYPE_PALETTE && trnsAlpha)
      std::copy(trnsAlpha, trnsAlpha + std::min(trnsCount, 256),
                layout.paletteAlpha);
    if (trnsColor && layout.colorType != PNG_COLOR_TYPE_PALETTE) {
      // PIL compares its 8-bit output with the raw tRNS samples, except that
      // it scales a 1-bit grey key to 0/255.
      uint32_t scale = layout.depth == 1 ? 255 : 1;
      layout.key[0] = layout.colorType == PNG_COLOR_TYPE_GRAY
                          ? trnsColor->gray * scale
                          : trnsColor->red;
      layout.key[1] = trnsColor->green;
      layout.key[2] = trnsColor->blue;
    }
  }
  bool withAlpha =
      layout.transparent || (layout.colorType & PNG_COLOR_MASK_ALPHA) != 0;

  if (layout.depth < 8)
    png_set_packing(png);
  if (interlace != PNG_INTERLACE_NONE)
    png_set_interlace_handling(png);
  if (!pngUpdateInfo(png, info))
    return failure();
  size_t rowBytes = png_get_rowbytes(png, info);
  std::vector<uint8_t> raw(rowBytes * height);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y)
    rows[y] = raw.data() + y * rowBytes;
  if (!pngReadImage(png, rows.data()))
    return failure();

  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * height * 3);
  if (withAlpha)
    image.alpha.resize(size_t(width) * height);
  for (png_uint_32 y = 0; y < height; ++y)
    convertPngRow(layout, rows[y], width, &image.rgb[size_t(y) * width * 3],
                  withAlpha ? &image.alpha[size_t(y) * width] : nullptr);
  return image;
}

} // namespace dgc::runtime::detail
