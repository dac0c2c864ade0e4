//===- Manifest.h - The manifest of a compiled dgc module -------*- C++ -*-===//
//
// manifest.json names the graphs and their C entry points, the inputs and
// outputs of each, the weight arena's layout, and the KV-cache pools. See
// docs/module-format.md.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_MANIFEST_H
#define DGC_RUNTIME_MANIFEST_H

#include "dgc/runtime/GenerationOptions.h"
#include "dgc/runtime/ModuleFormat.h"
#include "dgc/runtime/Safetensors.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dgc::runtime {


struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape; // -1 for a dynamic dimension
  bool isCache = false;       // a kv_cache input (its pool and its table)
};

struct GraphSpec {
  std::string symbol;
  std::vector<TensorSpec> inputs; // the first is the weight arena
  std::vector<TensorSpec> outputs;
};

struct WeightSpec {
  std::string name;
  int64_t offset = 0;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  int64_t byteSize() const;
};

struct PoolManifest {
  std::string name; // the graphs' input name, e.g. kv_cache_sliding
  std::string kind;
  int64_t layers = 0, kvHeads = 0, headDim = 0, window = 0;
  DType dtype = DType::F32;
};

/// The code of one target: its library inside the module directory and,
/// for cuda, the GPU architecture it was compiled for (e.g. sm_90a).
struct TargetManifest {
  std::string library;
  std::string chip;
  /// Only kernels read the graphs' arguments: weights, inputs and KV-cache
  /// pools may live in device memory (else managed memory, which the host
  /// code between kernels reaches too).
  bool deviceMemory = false;
  /// Host code compiled for a CPU beyond baseline x86-64: its LLVM name and
  /// the /proc/cpuinfo flags it needs.
  std::string cpu;
  std::vector<std::string> cpuFeatures;
};

/// How the module's vision graph wants its images (docs/images.md).
struct VisionManifest {
  int64_t patchSize = 0, poolingKernel = 0;
  /// Soft tokens per image at most: the vision graph takes
  /// softTokens * poolingKernel^2 patches.
  int64_t softTokens = 0;
  int64_t imageTokenId = 0, boiTokenId = 0, eoiTokenId = 0;
};

struct Manifest {
  std::string path;
  int version = 0;
  /// The host target's library; empty when the module has no host target.
  std::string library;
  /// Every target the module was compiled for, by name ("host", "cuda").
  std::map<std::string, TargetManifest> targets;
  int64_t canvasLength = 0, vocabSize = 0, hiddenSize = 0;
  /// The positions the model was trained for (max_position_embeddings); 0
  /// when the module does not say.
  int64_t maxPositions = 0;
  int64_t weightBytes = 0;
  /// The generation defaults compiled into the module (model.generation);
  /// none set when the module has none.
  GenerationOverrides generation;
  /// The config.json values the graphs were built from, by JSON path
  /// ("text_config.rms_norm_eps"), as JSON text; empty for graphs compiled
  /// from IR.
  std::map<std::string, std::string> configValues;
  /// Present when the module has a vision graph.
  std::optional<VisionManifest> vision;
  std::vector<WeightSpec> weights;
  std::vector<PoolManifest> pools;
  std::map<std::string, GraphSpec> graphs;
};

/// Parses manifest.json text; `path` names it in errors.
Result<Manifest> parseManifest(std::string_view text, const std::string &path);

/// The manifest's target `name`, or an error that says how to compile the
/// module for it.
Result<TargetManifest> selectTarget(const Manifest &manifest,
                                    const std::string &name);

/// Checks that the encoder, decoder and (when present) vision graphs take
/// and give what generation passes and reads, against model.*; an error
/// names the manifest field that differs.
Status checkGenerationGraphs(const Manifest &manifest);

/// The digest of manifest.json's text that its libraries hold
/// (kManifestDigestSymbol), or "" for text that is not JSON.
std::string manifestCodeDigest(std::string_view manifestText);

/// Checks `bytes`, the content of the module file `name`, against the
/// digest `directory`/SHA256SUMS lists for it.
Status verifyModuleFile(const std::string &directory, const std::string &name,
                        std::string_view bytes);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_MANIFEST_H
