//===- ImageJpeg.cpp - JPEG decoding with libjpeg -------------------------===//
//
// libjpeg reports errors by longjmp. Every libjpeg call that can fail is
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

// jpeglib.h needs <cstdio> (FILE) first.
#include <jerror.h>
#include <jpeglib.h>

namespace dgc::runtime::detail {
namespace {

// Progressive files can hold any number of scans over the whole image; refuse
// absurd counts rather than spend minutes on them (libjpeg-turbo's advice).
constexpr int kMaxJpegScans = 1000;

struct JpegContext {
  jpeg_error_mgr errors;
  jpeg_source_mgr source;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  bool truncated;
  char message[JMSG_LENGTH_MAX];
};

JpegContext &jpegContext(j_common_ptr cinfo) {
  return *static_cast<JpegContext *>(cinfo->client_data);
}

void jpegOnError(j_common_ptr cinfo) {
  JpegContext &context = jpegContext(cinfo);
  (*cinfo->err->format_message)(cinfo, context.message);
  std::longjmp(context.jump, 1);
}

// Warnings (corrupt data that libjpeg recovers from) pass, as in PIL.
void jpegOnMessage(j_common_ptr, int) {}
void jpegOnOutput(j_common_ptr) {}
void jpegInitSource(j_decompress_ptr) {}
void jpegTermSource(j_decompress_ptr) {}

// The whole file is in the buffer: asking for more means it is truncated
// (libjpeg's own memory source would invent an end marker instead).
boolean jpegFillInput(j_decompress_ptr cinfo) {
  jpegContext(reinterpret_cast<j_common_ptr>(cinfo)).truncated = true;
  ERREXIT(cinfo, JERR_INPUT_EOF);
  return FALSE;
}

void jpegSkipInput(j_decompress_ptr cinfo, long count) {
  if (count <= 0)
    return;
  if (size_t(count) > cinfo->src->bytes_in_buffer)
    jpegFillInput(cinfo);
  cinfo->src->next_input_byte += count;
  cinfo->src->bytes_in_buffer -= size_t(count);
}

void jpegOnProgress(j_common_ptr cinfo) {
  auto *decoder = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decoder->input_scan_number <= kMaxJpegScans)
    return;
  JpegContext &context = jpegContext(cinfo);
  std::snprintf(context.message, sizeof(context.message),
                "more than %d progressive scans", kMaxJpegScans);
  std::longjmp(context.jump, 1);
}

bool jpegCreate(JpegContext &context, jpeg_decompress_struct &cinfo) {
  if (setjmp(context.jump))
    return false;
  jpeg_create_decompress(&cinfo);
  return true;
}

bool jpegReadHeader(JpegContext &context, jpeg_decompress_struct &cinfo) {
  if (setjmp(context.jump))
    return false;
  jpeg_read_header(&cinfo, TRUE);
  return true;
}

bool jpegStart(JpegContext &context, jpeg_decompress_struct &cinfo) {
  if (setjmp(context.jump))
    return false;
  jpeg_start_decompress(&cinfo);
  return true;
}

bool jpegReadRow(JpegContext &context, jpeg_decompress_struct &cinfo,
                 JSAMPROW row) {
  if (setjmp(context.jump))
    return false;
  if (jpeg_read_scanlines(&cinfo, &row, 1) == 1)
    return true;
  std::snprintf(context.message, sizeof(context.message), "no scanline %u",
                cinfo.output_scanline);
  return false;
}

/// PIL reads 4-component JPEGs as Adobe-inverted CMYK ("CMYK;I") and then
/// converts with its integer cmyk2rgb.
void cmykToRgb(const uint8_t *cmyk, int64_t width, uint8_t *rgb) {
  for (int64_t x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    int notK = cmyk[3]; // 255 - (255 - k)
    for (int c = 0; c < 3; ++c) {
      int t = (255 - cmyk[c]) * notK + 128;
      rgb[c] = uint8_t(std::clamp(notK - (((t >> 8) + t) >> 8), 0, 255));
    }
  }
}

} // namespace

Result<Image> decodeJpeg(const uint8_t *data, size_t size,
                         const std::string &name, const ImageLimits &limits) {
  JpegContext context{};
  jpeg_decompress_struct cinfo{};
  cinfo.err = jpeg_std_error(&context.errors);
  context.errors.error_exit = jpegOnError;
  context.errors.emit_message = jpegOnMessage;
  context.errors.output_message = jpegOnOutput;
  cinfo.client_data = &context;
  struct Guard {
    jpeg_decompress_struct *cinfo;
    ~Guard() { jpeg_destroy_decompress(cinfo); }
  } guard{&cinfo};
  auto failure = [&] {
    return context.truncated
               ? problem(name, "truncated JPEG file (the data ends early)")
               : problem(name, std::string("invalid JPEG: ") + context.message);
  };
  if (!jpegCreate(context, cinfo))
    return failure();
  context.source.next_input_byte = data;
  context.source.bytes_in_buffer = size;
  context.source.init_source = jpegInitSource;
  context.source.fill_input_buffer = jpegFillInput;
  context.source.skip_input_data = jpegSkipInput;
  context.source.resync_to_restart = jpeg_resync_to_restart;
  context.source.term_source = jpegTermSource;
  cinfo.src = &context.source;
  context.progress.progress_monitor = jpegOnProgress;
  cinfo.progress = &context.progress;

  if (!jpegReadHeader(context, cinfo))
    return failure();
  if (std::string bad =
          checkDimensions(cinfo.image_width, cinfo.image_height, limits);
      !bad.empty())
    return problem(name, bad);
  // PIL's modes by component count: L, RGB, CMYK.
  int components = cinfo.num_components;
  if (components == 1)
    cinfo.out_color_space = JCS_GRAYSCALE;
  else if (components == 3)
    cinfo.out_color_space = JCS_RGB;
  else if (components == 4)
    cinfo.out_color_space = JCS_CMYK;
  else
    return problem(name, "unsupported JPEG with " + std::to_string(components) +
                             " components");
  if (!jpegStart(context, cinfo))
    return failure();

  Image image;
  image.width = cinfo.output_width;
  image.height = cinfo.output_height;
  image.rgb.resize(size_t(image.width) * image.height * 3);
  std::vector<uint8_t> row(size_t(image.width) * components);
  for (int64_t y = 0; y < image.height; ++y) {
    if (!jpegReadRow(context, cinfo, row.data()))
      return failure();
    uint8_t *out = &image.rgb[size_t(y) * image.width * 3];
    if (components == 3)
      std::memcpy(out, row.data(), row.size());
    else if (components == 1)
      for (int64_t x = 0; x < image.width; ++x)
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = row[x];
    else
      cmykToRgb(row.data(), image.width, out);
  }
  // No jpeg_finish_decompress: like PIL, a missing end marker after the
  // last row is not an error.
  return image;
}

} // namespace dgc::runtime::detail
