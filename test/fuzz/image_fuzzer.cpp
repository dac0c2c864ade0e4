//===- image_fuzzer.cpp - libFuzzer target for PNG/JPEG decoding ----------===//
//
// Decodes the input and, when that succeeds, runs the Gemma 4 preprocessing
// on it. Limits are small so that a header claiming a big image cannot make
// one input take seconds.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Image.h"
#include "dgc/runtime/ImageProcessor.h"

#include <cstdlib>

using namespace dgc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ImageLimits limits;
  limits.maxSide = 1024;
  limits.maxPixels = 256 * 1024;
  Result<Image> image = decodeImageBytes(data, size, "fuzz.img", limits);
  if (!image) {
    if (image.error().rfind("fuzz.img: ", 0) != 0) // Every failure says why.
      std::abort();
    return 0;
  }
  const size_t pixels = size_t(image->width * image->height);
  if (image->width < 1 || image->height < 1 || image->width > 1024 ||
      image->height > 1024 || image->rgb.size() != pixels * 3 ||
      (image->hasAlpha() && image->alpha.size() != pixels))
    std::abort();
  VisionPreprocessing params; // the tiny config's tower, smallest budget
  params.patchSize = 4;
  params.maxSoftTokens = 70;
  Result<ProcessedImage> processed = preprocessImage(*image, params);
  if (!processed)
    std::abort(); // any decoded image can be preprocessed
  if (processed->numPatches < 1 ||
      processed->numPatches > processed->maxPatches ||
      processed->patches.size() !=
          size_t(processed->maxPatches * processed->patchDim))
    std::abort();
  for (float v : processed->patches)
    if (!(v >= 0.0f && v <= 1.0f))
      std::abort();
  return 0;
}
