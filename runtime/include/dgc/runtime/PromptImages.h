//===- PromptImages.h - Images in a prompt ----------------------*- C++ -*-===//
//
// A prompt with images (spec section 4): each image token of the prompt
// becomes boi, one image token per soft token, eoi; the vision graph turns
// the image's patches into those soft tokens, which replace the encoder's
// input embeddings at the image tokens; the image's tokens see each other
// in both directions (the encoder's image spans).
//
//   auto image = loadPromptImage("cat.png", module.manifest());
//   auto ids = expandImageTokens(promptIds, *manifest.vision, {image->softTokens});
//   auto inputs = encoderImages(module, *ids, {*image});
//   executor.encode({request}, *ids, positions, &*inputs);
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_PROMPTIMAGES_H
#define DGC_RUNTIME_PROMPTIMAGES_H

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/ImageProcessor.h"

namespace dgc::runtime {

/// How `manifest`'s vision graph wants its images; an error naming the
/// module when it has no vision graph.
Result<VisionPreprocessing> visionPreprocessing(const Manifest &manifest);

/// Decodes a PNG or JPEG file and cuts it into the vision graph's patches.
Result<ProcessedImage> loadPromptImage(const std::string &path,
                                       const Manifest &manifest);

/// `ids` with its i-th image token replaced by boi, `softTokens[i]` image
/// tokens and eoi. The prompt must hold exactly one image token per image.
Result<std::vector<int32_t>>
expandImageTokens(const std::vector<int32_t> &ids, const VisionManifest &vision,
                  const std::vector<int64_t> &softTokens);

/// Runs the vision graph on `images` and lays the soft tokens out for an
/// encoder pass over the expanded prompt `ids` at positions
/// `firstPosition`, `firstPosition + 1`, ...: one batch row of
/// Executor::EncoderImages. The k-th run of image tokens in `ids` must be
/// as long as `images[k]` has soft tokens.
Result<Executor::EncoderImages>
encoderImages(const CompiledModule &module, const std::vector<int32_t> &ids,
              const std::vector<ProcessedImage> &images,
              int32_t firstPosition = 0);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_PROMPTIMAGES_H
