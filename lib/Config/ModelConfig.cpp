//===- ModelConfig.cpp - Reading and validating a DiffusionGemma config ---===//

#include "JsonReader.h"

#include <cmath>
#include <map>

using nlohmann::json;

namespace dgc {
namespace {

using detail::JsonNode;

// Bounds that no plausible model exceeds; past them a value is a typo or an
// attack, and accepting it would only fail later with a huge allocation.
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxWidth = int64_t(1) << 17;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxExperts = 4096;
constexpr int64_t kMaxPositions = int64_t(1) << 26;
constexpr int64_t kMaxTokenId = (int64_t(1) << 31) - 1;
constexpr size_t kMaxConfigBytes = 16 << 20;
constexpr double kMaxParameters = 1e13;

LayerType parseLayerType(const JsonNode &node) {
  std::string s = node.asString();
  if (s == "sliding_attention")
    return LayerType::Sliding;
  if (s == "full_attention")
    return LayerType::Full;
  node.fail("expected \"sliding_attention\" or \"full_attention\", got \"" + s +
            "\"");
}

RopeParameters parseRope(const JsonNode &node, int64_t headDim) {
  node.expectObject();
  RopeParameters rope;
  JsonNode typeNode = node.member("rope_type");
  std::string type = typeNode.asString();
  if (type == "default")
    rope.type = RopeType::Default;
  else if (type == "proportional")
    rope.type = RopeType::Proportional;
  else
    typeNode.fail("expected a known rope type (\"default\" or "
                  "\"proportional\"), got \"" +
                  type + "\"");
  JsonNode theta = node.member("rope_theta");
  rope.theta = theta.asNumber();
  if (rope.theta <= 0)
    theta.fail("expected a positive rope_theta, got " + theta.raw().dump());
  if (node.find("partial_rotary_factor")) {
    JsonNode factor = node.member("partial_rotary_factor");
    rope.partialRotaryFactor = factor.asNumber();
    if (!(rope.partialRotaryFactor > 0 && rope.partialRotaryFactor <= 1))
      factor.fail("expected a factor in (0, 1], got " + factor.raw().dump());
    double pairs = rope.partialRotaryFactor * static_cast<double>(headDim) / 2;
    if (pairs != std::floor(pairs))
      factor.fail("partial_rotary_factor " + factor.raw().dump() +
                  " does not select a whole number of the " +
                  std::to_string(headDim / 2) +
                  " frequency pairs of head_dim " + std::to_string(headDim));
    if (rope.type == RopeType::Default && rope.partialRotaryFactor != 1)
      factor.fail("partial_rotary_factor needs rope_type \"proportional\"");
  }
  return rope;
}

/// Per-layer attention geometry before it is grouped by layer type.
struct LayerGeometry {
  int64_t numKvHeads;
  int64_t headDim;
  // JSON paths that set them, for messages.
  std::string kvHeadsSource;
  std::string headDimSource;
};

void parseTextConfig(const JsonNode &tc, TextConfig &t) {
  tc.expectObject();
  if (tc.find("model_type")) {
    // Two names for one model: not a value the graphs depend on.
    JsonNode mt = tc.member("model_type").unrecorded();
    std::string s = mt.asString();
    if (s != "diffusion_gemma_text" && s != "gemma4_text")
      mt.fail("expected \"diffusion_gemma_text\", got \"" + s + "\"");
  }
  t.vocabSize = tc.requireInt("vocab_size", 1, kMaxVocab);
  t.hiddenSize = tc.requireInt("hidden_size", 1, kMaxWidth);
  t.intermediateSize = tc.requireInt("intermediate_size", 1, kMaxWidth * 8);
  t.numLayers = tc.requireInt("num_hidden_layers", 1, kMaxLayers);
  t.numHeads = tc.requireInt("num_attention_heads", 1, kMaxHeads);
  t.numExperts = tc.requireInt("num_experts", 1, kMaxExperts);
  t.topKExperts = tc.requireInt("top_k_experts", 1, t.numExperts);
  t.moeIntermediateSize = tc.requireInt("moe_intermediate_size", 1, kMaxWidth);
  t.maxPositionEmbeddings =
      tc.getInt("max_position_embeddings", 131072, 1, kMaxPositions);
  t.padTokenId = tc.getInt("pad_token_id", 0, 0, t.vocabSize - 1);
  t.bosTokenId = tc.getInt("bos_token_id", 2, 0, t.vocabSize - 1);

  if (tc.find("rms_norm_eps")) {
    JsonNode eps = tc.member("rms_norm_eps");
    t.rmsNormEps = eps.asNumber();
    if (!(t.rmsNormEps > 0 && t.rmsNormEps < 1))
      eps.fail("expected an epsilon in (0, 1), got " + eps.raw().dump());
  }
  if (tc.find("final_logit_softcapping")) {
    JsonNode cap = tc.member("final_logit_softcapping");
    t.finalLogitSoftcapping = cap.asNumber();
    if (t.finalLogitSoftcapping <= 0)
      cap.fail("expected a positive softcap or null, got " + cap.raw().dump());
  } else if (!tc.raw().contains("final_logit_softcapping")) {
    t.finalLogitSoftcapping = 30.0; // the class default
  }
  std::string act = tc.getString("hidden_activation", "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh")
    tc.member("hidden_activation")
        .fail("expected \"gelu_pytorch_tanh\" (the only activation of this "
              "model family), got \"" +
              act + "\"");
  if (!tc.getBool("tie_word_embeddings", true))
    tc.member("tie_word_embeddings")
        .fail("expected true: the LM head is the tied input embedding");
  if (tc.find("use_bidirectional_attention")) {
    JsonNode bidi = tc.member("use_bidirectional_attention");
    std::string s = bidi.asString();
    if (s == "vision")
      t.bidirectionalVision = true;
    else
      bidi.fail("expected \"vision\" or null, got \"" + s + "\"");
  }

  // Layer types: explicit, or HF's default pattern of five sliding layers
  // then one full layer.
  if (tc.find("layer_types")) {
    JsonNode types = tc.member("layer_types");
    types.expectArray();
    if (static_cast<int64_t>(types.raw().size()) != t.numLayers)
      types.fail("expected " + std::to_string(t.numLayers) +
                 " entries (num_hidden_layers), got " +
                 std::to_string(types.raw().size()));
    for (size_t i = 0; i < types.raw().size(); ++i)
      t.layerTypes.push_back(parseLayerType(types.element(i)));
    if (t.layerTypes.back() != LayerType::Full)
      types.element(types.raw().size() - 1)
          .fail("expected \"full_attention\": the last layer must be a "
                "full-attention layer");
  } else {
    for (int64_t i = 0; i < t.numLayers; ++i)
      t.layerTypes.push_back((i + 1) % 6 ? LayerType::Sliding
                                         : LayerType::Full);
    t.layerTypes.back() = LayerType::Full;
  }

  // Geometry of each layer: sliding layers use head_dim/num_key_value_heads;
  // full layers use either the flat global_* fields or a per_layer_config map.
  int64_t headDim = tc.requireInt("head_dim", 2, kMaxHeadDim);
  int64_t kvHeads = tc.requireInt("num_key_value_heads", 1, kMaxHeads);
  std::vector<LayerGeometry> layers(
      t.numLayers,
      LayerGeometry{kvHeads, headDim, tc.childPath("num_key_value_heads"),
                    tc.childPath("head_dim")});
  if (tc.find("per_layer_config")) {
    JsonNode plc = tc.member("per_layer_config");
    plc.expectObject();
    for (const auto &item : plc.raw().items()) {
      const std::string &key = item.key();
      int64_t index = -1;
      bool digits = !key.empty() && key.size() <= 9 &&
                    key.find_first_not_of("0123456789") == std::string::npos;
      if (digits)
        index = std::stoll(key);
      if (index < 0 || index >= t.numLayers)
        plc.fail("key \"" + key + "\" is not a layer index in [0, " +
                 std::to_string(t.numLayers) + ")");
      JsonNode layer = plc.member(key);
      layer.expectObject();
      for (const auto &attr : layer.raw().items())
        if (attr.key() != "head_dim" && attr.key() != "num_key_value_heads")
          layer.member(attr.key())
              .fail("unknown per-layer attribute; expected head_dim or "
                    "num_key_value_heads");
      layers[index].headDim = layer.getInt("head_dim", headDim, 2, kMaxHeadDim);
      layers[index].numKvHeads =
          layer.getInt("num_key_value_heads", kvHeads, 1, kMaxHeads);
      layers[index].kvHeadsSource = layers[index].headDimSource = layer.path();
    }
    for (const char *flat : {"global_head_dim", "num_global_key_value_heads"})
      if (tc.find(flat))
        tc.member(flat).fail("conflicts with per_layer_config: give the full "
                             "layers' geometry in one form only");
  } else {
    int64_t globalHeadDim = tc.getInt("global_head_dim", 512, 2, kMaxHeadDim);
    int64_t globalKv =
        tc.getInt("num_global_key_value_heads", kvHeads, 1, kMaxHeads);
    auto source = [&](const char *key, const char *fallback) {
      return tc.childPath(tc.find(key) ? key : fallback);
    };
    for (int64_t i = 0; i < t.numLayers; ++i)
      if (t.layerTypes[i] == LayerType::Full)
        layers[i] = LayerGeometry{
            globalKv, globalHeadDim,
            source("num_global_key_value_heads", "num_key_value_heads"),
            source("global_head_dim", "head_dim")};
  }
  if (!tc.getBool("attention_k_eq_v", true))
    tc.member("attention_k_eq_v")
        .fail("expected true: DiffusionGemma's full-attention layers make V "
              "from the k_proj output and have no v_proj");

  // Group by type: every layer of a type shares one KV-cache pool.
  for (LayerType type : {LayerType::Sliding, LayerType::Full}) {
    const LayerGeometry *first = nullptr;
    for (int64_t i = 0; i < t.numLayers; ++i) {
      if (t.layerTypes[i] != type)
        continue;
      const LayerGeometry &g = layers[i];
      if (!first) {
        first = &g;
      } else if (g.headDim != first->headDim ||
                 g.numKvHeads != first->numKvHeads) {
        throw ConfigError{
            "", g.kvHeadsSource,
            "layer " + std::to_string(i) + " (" + layerTypeName(type) +
                ") has head_dim " + std::to_string(g.headDim) + " and " +
                std::to_string(g.numKvHeads) +
                " KV heads, unlike the other layers of its type (" +
                std::to_string(first->headDim) + ", " +
                std::to_string(first->numKvHeads) +
                "); they must share one KV-cache geometry"};
      }
    }
    if (!first)
      continue;
    AttentionGeometry &geo = type == LayerType::Sliding ? t.sliding : t.full;
    geo.headDim = first->headDim;
    geo.numKvHeads = first->numKvHeads;
    geo.hasValueProjection = type == LayerType::Sliding;
    if (geo.headDim % 2 != 0)
      throw ConfigError{"", first->headDimSource,
                        std::string("head_dim of the ") + layerTypeName(type) +
                            " layers must be even for RoPE, got " +
                            std::to_string(geo.headDim)};
    if (t.numHeads % geo.numKvHeads != 0)
      throw ConfigError{
          "", first->kvHeadsSource,
          "num_attention_heads (" + std::to_string(t.numHeads) +
              ") is not divisible by the " + std::to_string(geo.numKvHeads) +
              " KV heads of the " + layerTypeName(type) + " layers"};
  }
  if (t.countLayers(LayerType::Sliding) > 0)
    t.sliding.window = tc.requireInt("sliding_window", 1, kMaxPositions);

  // RoPE per layer type; HF's defaults when absent.
  t.sliding.rope = {RopeType::Default, 10000.0, 1.0};
  t.full.rope = {RopeType::Proportional, 1000000.0, 0.25};
  if (tc.find("rope_parameters")) {
    JsonNode rp = tc.member("rope_parameters");
    rp.expectObject();
    for (const auto &item : rp.raw().items())
      if (item.key() != "sliding_attention" && item.key() != "full_attention")
        rp.fail("key \"" + item.key() +
                "\" is not a layer type; expected "
                "\"sliding_attention\" and \"full_attention\"");
    for (LayerType type : {LayerType::Sliding, LayerType::Full}) {
      if (t.countLayers(type) == 0)
        continue;
      AttentionGeometry &geo = type == LayerType::Sliding ? t.sliding : t.full;
      geo.rope = parseRope(rp.member(layerTypeName(type)), geo.headDim);
    }
  }
}

VisionConfig parseVisionConfig(const JsonNode &vc) {
  vc.expectObject();
  VisionConfig v;
  v.hiddenSize = vc.requireInt("hidden_size", 1, kMaxWidth);
  v.intermediateSize = vc.requireInt("intermediate_size", 1, kMaxWidth * 8);
  v.numLayers = vc.requireInt("num_hidden_layers", 1, kMaxLayers);
  v.numHeads = vc.requireInt("num_attention_heads", 1, kMaxHeads);
  v.numKvHeads = vc.getInt("num_key_value_heads", v.numHeads, 1, v.numHeads);
  if (v.numHeads % v.numKvHeads != 0)
    vc.member("num_key_value_heads")
        .fail("num_attention_heads (" + std::to_string(v.numHeads) +
              ") is not divisible by " + std::to_string(v.numKvHeads));
  if (vc.find("head_dim")) {
    v.headDim = vc.requireInt("head_dim", 4, kMaxHeadDim);
  } else if (v.hiddenSize % v.numHeads == 0) {
    v.headDim = v.hiddenSize / v.numHeads;
  } else {
    vc.fail("head_dim is missing and hidden_size is not divisible by "
            "num_attention_heads");
  }
  if (v.headDim % 4 != 0)
    vc.member("head_dim")
        .fail("2-D RoPE needs a head_dim divisible by 4, got " +
              std::to_string(v.headDim));
  v.patchSize = vc.getInt("patch_size", 16, 1, 1024);
  v.poolingKernelSize = vc.getInt("pooling_kernel_size", 3, 1, 64);
  v.positionEmbeddingSize =
      vc.getInt("position_embedding_size", 10240, 1, kMaxPositions);
  v.defaultOutputLength = vc.getInt("default_output_length", 280, 1, 1 << 20);
  v.standardize = vc.getBool("standardize", false);
  if (vc.getBool("use_clipped_linears", false))
    vc.member("use_clipped_linears")
        .fail("clipped linears are not supported; expected false");
  if (vc.find("rms_norm_eps")) {
    JsonNode eps = vc.member("rms_norm_eps");
    v.rmsNormEps = eps.asNumber();
    if (!(v.rmsNormEps > 0 && v.rmsNormEps < 1))
      eps.fail("expected an epsilon in (0, 1), got " + eps.raw().dump());
  }
  std::string act = vc.getString("hidden_activation", "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh")
    vc.member("hidden_activation")
        .fail("expected \"gelu_pytorch_tanh\", got \"" + act + "\"");
  if (vc.find("rope_parameters")) {
    // transformers writes the vision tower's 2-D RoPE as "axial" (older
    // configs: "default"); both mean one rotation per image axis.
    JsonNode rope = vc.member("rope_parameters");
    JsonNode type = rope.member("rope_type").unrecorded();
    std::string name = type.asString();
    if (name != "default" && name != "axial")
      type.fail("expected the vision tower's 2-D rope type (\"axial\" or "
                "\"default\"), got \"" +
                name + "\"");
    JsonNode theta = rope.member("rope_theta");
    v.ropeTheta = theta.asNumber();
    if (v.ropeTheta <= 0)
      theta.fail("expected a positive rope_theta, got " + theta.raw().dump());
  }
  return v;
}

void checkTokenId(const JsonNode &root, std::string_view key, int64_t id,
                  int64_t vocab) {
  if (!root.find(key))
    return;
  if (id >= vocab)
    root.member(key).fail("token id " + std::to_string(id) +
                          " is outside the vocabulary of " +
                          std::to_string(vocab));
}

ModelConfig parseModel(std::string_view text, const std::string &file) {
  json doc = detail::parseJson(text, file);
  ModelConfig c;
  c.path = file;
  JsonNode root(doc, "", file, &c.valuesRead);
  root.expectObject();
  if (root.find("model_type")) {
    JsonNode mt = root.member("model_type").unrecorded();
    if (mt.asString() != "diffusion_gemma")
      mt.fail("expected \"diffusion_gemma\", got \"" + mt.asString() + "\"");
  }
  if (!root.find("text_config"))
    root.fail("required field text_config is missing: expected a "
              "DiffusionGemma config with text_config (and optionally "
              "vision_config)");
  try {
    parseTextConfig(root.member("text_config"), c.text);
  } catch (ConfigError &e) {
    e.file = file; // geometry errors are raised without the file
    throw;
  }
  const TextConfig &t = c.text;

  // The checkpoint's dtype may differ from the module's: its weights are
  // converted as they are bound.
  std::string dtypeKey = root.find("dtype") ? "dtype" : "torch_dtype";
  c.dtype = root.unrecorded().getString(dtypeKey, "bfloat16");
  if (c.dtype != "bfloat16" && c.dtype != "float16" && c.dtype != "float32")
    root.member(dtypeKey).fail("expected \"bfloat16\", \"float16\" or "
                               "\"float32\", got \"" +
                               c.dtype + "\"");
  c.canvasLength = root.getInt("canvas_length", 256, 1, 65536);
  if (c.canvasLength > t.maxPositionEmbeddings)
    root.member("canvas_length")
        .fail("the canvas (" + std::to_string(c.canvasLength) +
              " tokens) exceeds max_position_embeddings (" +
              std::to_string(t.maxPositionEmbeddings) + ")");
  c.boiTokenId = root.getInt("boi_token_id", 255999, 0, kMaxTokenId);
  c.eoiTokenId = root.getInt("eoi_token_id", 258882, 0, kMaxTokenId);
  c.imageTokenId = root.getInt("image_token_id", 258880, 0, kMaxTokenId);
  c.visionSoftTokensPerImage =
      root.getInt("vision_soft_tokens_per_image", 280, 1, 1 << 20);
  if (root.find("eos_token_id"))
    c.eosTokenIds = root.member("eos_token_id").asIntList(0, t.vocabSize - 1);
  else if (root.member("text_config").find("eos_token_id"))
    c.eosTokenIds = root.member("text_config")
                        .member("eos_token_id")
                        .asIntList(0, t.vocabSize - 1);
  else
    c.eosTokenIds = {1};
  if (!root.getBool("tie_word_embeddings", true))
    root.member("tie_word_embeddings")
        .fail("expected true: the LM head is the tied input embedding");

  if (root.find("vision_config")) {
    c.vision = parseVisionConfig(root.member("vision_config"));
    for (auto [key, id] :
         {std::pair<const char *, int64_t>{"boi_token_id", c.boiTokenId},
          {"eoi_token_id", c.eoiTokenId},
          {"image_token_id", c.imageTokenId}})
      checkTokenId(root, key, id, t.vocabSize);
  }

  double params = static_cast<double>(c.parameterCount());
  if (params > kMaxParameters || params < 0)
    root.fail("the sizes describe an implausible model of about " +
              std::to_string(params / 1e9) +
              " billion parameters; check the sizes in text_config");
  return c;
}

} // namespace

const char *layerTypeName(LayerType type) {
  return type == LayerType::Sliding ? "sliding_attention" : "full_attention";
}

const char *ropeTypeName(RopeType type) {
  return type == RopeType::Default ? "default" : "proportional";
}

int64_t TextConfig::countLayers(LayerType type) const {
  int64_t n = 0;
  for (LayerType t : layerTypes)
    n += t == type;
  return n;
}

int64_t TextConfig::indexInType(int64_t layer) const {
  int64_t n = 0;
  for (int64_t i = 0; i < layer; ++i)
    n += layerTypes[i] == layerTypes[layer];
  return n;
}

// Counted in double: the sizes are bounded one by one, not as products.
static double countParameters(const ModelConfig &c, bool activeOnly) {
  const TextConfig &t = c.text;
  double h = static_cast<double>(t.hiddenSize);
  double total = static_cast<double>(t.vocabSize) * h; // tied embedding
  total += 3.0 * h * t.intermediateSize + h;           // self-conditioning
  total += h;                                          // final norm
  for (int64_t i = 0; i < t.numLayers; ++i) {
    const AttentionGeometry &g = t.geometry(t.layerTypes[i]);
    double q = static_cast<double>(t.numHeads) * g.headDim;
    double kv = static_cast<double>(g.numKvHeads) * g.headDim;
    total += h * q + h * kv * (g.hasValueProjection ? 2 : 1) + q * h;
    total += 2.0 * g.headDim;                     // q_norm, k_norm
    total += 3.0 * h * t.intermediateSize;        // dense MLP
    total += 7.0 * h;                             // norms
    total += h * t.numExperts + h + t.numExperts; // router
    double experts = activeOnly ? t.topKExperts : t.numExperts;
    total += experts * 3.0 * h * t.moeIntermediateSize;
    total += 2; // layer_scalar, encoder and decoder
  }
  if (c.vision && !activeOnly) {
    const VisionConfig &v = *c.vision;
    double w = static_cast<double>(v.hiddenSize);
    double q = static_cast<double>(v.numHeads) * v.headDim;
    double kv = static_cast<double>(v.numKvHeads) * v.headDim;
    total += 3.0 * v.patchSize * v.patchSize * w;
    total += 2.0 * v.positionEmbeddingSize * w;
    total += v.numLayers * (w * q + 2 * w * kv + q * w + 2.0 * v.headDim +
                            3.0 * w * v.intermediateSize + 4 * w);
    total += (v.standardize ? 2 * w : 0) + w * h;
  }
  return total;
}

int64_t ModelConfig::parameterCount() const {
  double p = countParameters(*this, false);
  return p > 9e18 ? INT64_MAX : static_cast<int64_t>(p);
}

int64_t ModelConfig::activeParameterCount() const {
  double p = countParameters(*this, true);
  return p > 9e18 ? INT64_MAX : static_cast<int64_t>(p);
}

std::string ConfigError::str() const {
  std::string s = file;
  if (!path.empty())
    s += (s.empty() ? "" : ": ") + path;
  return s + (s.empty() ? "" : ": ") + message;
}

std::optional<ModelConfig> parseModelConfig(std::string_view text,
                                            const std::string &fileName,
                                            ConfigError &error) {
  try {
    return parseModel(text, fileName);
  } catch (const ConfigError &e) {
    error = e;
  } catch (const std::exception &e) {
    error =
        ConfigError{fileName, "", std::string("invalid config: ") + e.what()};
  }
  return std::nullopt;
}

std::optional<ModelConfig> loadModelConfig(const std::string &fileName,
                                           ConfigError &error) {
  try {
    return parseModel(detail::readFile(fileName, kMaxConfigBytes), fileName);
  } catch (const ConfigError &e) {
    error = e;
  } catch (const std::exception &e) {
    error =
        ConfigError{fileName, "", std::string("invalid config: ") + e.what()};
  }
  return std::nullopt;
}

} // namespace dgc
