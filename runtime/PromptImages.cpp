//===- PromptImages.cpp - Images in a prompt ------------------------------===//

#include "dgc/runtime/PromptImages.h"

#include <algorithm>
#include <cstring>

namespace dgc::runtime {

Result<VisionPreprocessing> visionPreprocessing(const Manifest &manifest) {
  if (!manifest.vision || !manifest.graphs.count("vision"))
    return Error{manifest.path + ": this module has no vision graph, so its "
                                 "prompts cannot hold images"};
  VisionPreprocessing params;
  params.patchSize = manifest.vision->patchSize;
  params.poolingKernelSize = manifest.vision->poolingKernel;
  params.maxSoftTokens = manifest.vision->softTokens;
  return validate(params);
}

Result<ProcessedImage> loadPromptImage(const std::string &path,
                                       const Manifest &manifest) {
  Result<VisionPreprocessing> params = visionPreprocessing(manifest);
  if (!params)
    return Error{params.error()};
  Result<Image> image = decodeImage(path);
  if (!image)
    return Error{image.error()};
  Result<ProcessedImage> processed = preprocessImage(*image, *params);
  if (!processed)
    return Error{path + ": " + processed.error()};
  return processed;
}

Result<std::vector<int32_t>>
expandImageTokens(const std::vector<int32_t> &ids, const VisionManifest &vision,
                  const std::vector<int64_t> &softTokens) {
  size_t images = std::count(ids.begin(), ids.end(),
                             static_cast<int32_t>(vision.imageTokenId));
  if (images != softTokens.size())
    return Error{"the prompt holds " + std::to_string(images) +
                 " image token(s) (id " + std::to_string(vision.imageTokenId) +
                 ") for " + std::to_string(softTokens.size()) + " image(s)"};
  std::vector<int32_t> out;
  size_t next = 0;
  for (int32_t id : ids) {
    if (id != vision.imageTokenId) {
      out.push_back(id);
      continue;
    }
    out.push_back(static_cast<int32_t>(vision.boiTokenId));
    out.insert(out.end(), softTokens[next++], id);
    out.push_back(static_cast<int32_t>(vision.eoiTokenId));
  }
  return out;
}

namespace {
/// One image through the vision graph: its soft tokens as floats [S, H].
Result<std::vector<float>> runVision(const CompiledModule &module,
                                     const ProcessedImage &image) {
  const GraphSpec &graph = module.manifest().graphs.at("vision");
  const TensorSpec &pixels = graph.inputs[1];
  int64_t patches = pixels.shape[1], dim = pixels.shape[2];
  if (image.maxPatches != patches || image.patchDim != dim)
    return Error{"the image was cut into " + std::to_string(image.maxPatches) +
                 " patches of " + std::to_string(image.patchDim) +
                 " values; the vision graph takes " + std::to_string(patches) +
                 " of " + std::to_string(dim)};
  std::vector<uint16_t> bf16;
  const void *data = image.patches.data();
  if (pixels.dtype == DType::BF16) {
    bf16.resize(image.patches.size());
    for (size_t i = 0; i < bf16.size(); ++i)
      bf16[i] = floatToBF16(image.patches[i]);
    data = bf16.data();
  }
  auto outputs = module.call("vision", {{data, {1, patches, dim}},
                                        {image.positions.data(),
                                         {1, patches, 2}}});
  if (!outputs)
    return Error{"vision graph: " + outputs.error()};
  std::vector<float> values = (*outputs)[0].floats();
  return values;
}
} // namespace

Result<Executor::EncoderImages>
encoderImages(const CompiledModule &module, const std::vector<int32_t> &ids,
              const std::vector<ProcessedImage> &images,
              int32_t firstPosition) {
  const Manifest &m = module.manifest();
  if (Result<VisionPreprocessing> p = visionPreprocessing(m); !p)
    return Error{p.error()};
  const int64_t h = m.hiddenSize, t = static_cast<int64_t>(ids.size());
  const int32_t imageId = static_cast<int32_t>(m.vision->imageTokenId);
  Executor::EncoderImages out;
  out.softTokens.assign(t * h, 0.0f);
  out.mask.assign(t, 0.0f);
  out.spans.assign(t * 2, 0);
  for (int64_t i = 0; i < t; ++i)
    out.spans[2 * i + 1] = -1;
  size_t image = 0;
  for (int64_t i = 0; i < t;) {
    if (ids[i] != imageId) {
      ++i;
      continue;
    }
    int64_t end = i;
    while (end < t && ids[end] == imageId)
      ++end;
    if (image == images.size())
      return Error{"the prompt has more image blocks than images"};
    const ProcessedImage &img = images[image++];
    if (end - i != img.softTokens)
      return Error{"image " + std::to_string(image - 1) + " has " +
                   std::to_string(img.softTokens) + " soft tokens, but its " +
                   "block in the prompt has " + std::to_string(end - i) +
                   " image tokens"};
    Result<std::vector<float>> soft = runVision(module, img);
    if (!soft)
      return Error{"image " + std::to_string(image - 1) + ": " + soft.error()};
    for (int64_t j = i; j < end; ++j) {
      std::copy_n(soft->begin() + (j - i) * h, h,
                  out.softTokens.begin() + j * h);
      out.mask[j] = 1.0f;
      out.spans[2 * j] = firstPosition + static_cast<int32_t>(i);
      out.spans[2 * j + 1] = firstPosition + static_cast<int32_t>(end - 1);
    }
    i = end;
  }
  if (image != images.size())
    return Error{"the prompt has " + std::to_string(image) +
                 " image block(s) for " + std::to_string(images.size()) +
                 " image(s)"};
  return out;
}

} // namespace dgc::runtime
