//===- Config.h - DiffusionGemma model and generation configs ---*- C++ -*-===//
//
// Reads a Hugging Face `config.json` of DiffusionGemma (and optionally its
// `generation_config.json`) into validated structs. Everything the graphs and
// the runtime depend on is checked here, so later stages can trust it.
// Errors name the file, the JSON path and what was expected.
//
// This library depends only on the C++ standard library, nlohmann/json and,
// for generation_config.json, the runtime's reader: no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_CONFIG_H
#define DGC_CONFIG_H

#include "dgc/runtime/GenerationOptions.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dgc {

enum class LayerType { Sliding, Full };
enum class RopeType { Default, Proportional };

const char *layerTypeName(LayerType type); // "sliding_attention", ...
const char *ropeTypeName(RopeType type);   // "default", "proportional"

struct RopeParameters {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  /// Fraction of the head's frequency pairs that rotate (proportional only).
  double partialRotaryFactor = 1.0;
};

/// The attention geometry shared by every layer of one type. All layers of a
/// type must agree, because they share one pool of the paged KV cache.
struct AttentionGeometry {
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  /// Full layers have no v_proj: V is made from the k_proj output.
  bool hasValueProjection = true;
  RopeParameters rope;
  /// Keys a query may see, itself included; 0 for full attention.
  int64_t window = 0;
};

struct TextConfig {
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numExperts = 0;
  int64_t topKExperts = 0;
  int64_t moeIntermediateSize = 0;
  double rmsNormEps = 1e-6;
  /// `tanh(x / c) * c` on the final logits; 0 when absent.
  double finalLogitSoftcapping = 0.0;
  int64_t maxPositionEmbeddings = 0;
  int64_t padTokenId = 0;
  int64_t bosTokenId = 2;
  std::vector<LayerType> layerTypes;
  AttentionGeometry sliding;
  AttentionGeometry full;
  /// Image tokens attend to each other bidirectionally in the encoder.
  bool bidirectionalVision = false;

  const AttentionGeometry &geometry(LayerType type) const {
    return type == LayerType::Sliding ? sliding : full;
  }
  int64_t countLayers(LayerType type) const;
  /// Index of `layer` among the layers of its own type (its KV-cache slot).
  int64_t indexInType(int64_t layer) const;
};

struct VisionConfig {
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t patchSize = 16;
  int64_t poolingKernelSize = 3;
  int64_t positionEmbeddingSize = 10240;
  double ropeTheta = 100.0;
  bool standardize = false;
  int64_t defaultOutputLength = 280;
  double rmsNormEps = 1e-6;
};

struct ModelConfig {
  /// The file it was read from (for messages).
  std::string path;
  /// Checkpoint dtype: "bfloat16", "float16" or "float32".
  std::string dtype = "bfloat16";
  int64_t canvasLength = 256;
  int64_t boiTokenId = 255999;
  int64_t eoiTokenId = 258882;
  int64_t imageTokenId = 258880;
  int64_t visionSoftTokensPerImage = 280;
  std::vector<int64_t> eosTokenIds;
  TextConfig text;
  std::optional<VisionConfig> vision;
  /// Every value of the file the graphs were built from, by JSON path
  /// ("text_config.rms_norm_eps"), as JSON text: the manifest carries them so
  /// that the runtime can compare a checkpoint's own config.json.
  std::map<std::string, std::string> valuesRead;

  /// Number of parameters of the checkpoint (tied embedding counted once).
  int64_t parameterCount() const;
  /// Parameters one token touches in a decoder pass (top-k experts only).
  int64_t activeParameterCount() const;
};

/// The generation options dgc compiles into a module: the runtime's
/// struct, read by the runtime's reader of generation_config.json
/// (dgc/runtime/GenerationOptions.h) over DiffusionGemma's eos ids, and
/// checked whole (GenerationOptions::validate).
struct GenerationConfig {
  runtime::GenerationOptions options = defaults();
  /// Whether the file gave eos_token_id (else options.eosIds are the
  /// defaults).
  bool eosStated = false;

  /// transformers' defaults, with DiffusionGemma's eos ids 1, 106 and 50.
  static runtime::GenerationOptions defaults();
};

/// What went wrong, where: `file: path: message`.
struct ConfigError {
  std::string file;
  /// JSON path such as `text_config.layer_types[29]`; empty for the whole file.
  std::string path;
  std::string message;
  std::string str() const;
};

/// Parses `text` (the contents of `fileName`) as a model config.
std::optional<ModelConfig> parseModelConfig(std::string_view text,
                                            const std::string &fileName,
                                            ConfigError &error);
std::optional<ModelConfig> loadModelConfig(const std::string &fileName,
                                           ConfigError &error);

std::optional<GenerationConfig>
parseGenerationConfig(std::string_view text, const std::string &fileName,
                      ConfigError &error);
std::optional<GenerationConfig>
loadGenerationConfig(const std::string &fileName, ConfigError &error);

} // namespace dgc

#endif // DGC_CONFIG_H
