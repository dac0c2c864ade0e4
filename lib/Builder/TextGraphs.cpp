//===- TextGraphs.cpp - The encoder and decoder graphs --------------------===//
//
// One transformer in two modes (the model spec, sections 2.1 to 2.8):
//   encoder: causal attention over the cache; writes K/V; returns the final
//            normalised hidden states.
//   decoder: one denoise step; canvas keys are bidirectional, the committed
//            prefix is read-only (windowed on sliding layers), canvas K/V are
//            scratch; returns the sampling statistics.
// Both share the decoder's layer weights; only `layer_scalar` has one copy
// per mode in the checkpoint.
//
//===----------------------------------------------------------------------===//

#include "Graphs.h"

#include <cmath>
#include <optional>

using namespace mlir;

namespace dgc {
namespace {

using dg::MaskKind;
using dg::ReduceKind;
using dg::RopeKind;

constexpr int64_t kDyn = ShapedType::kDynamic;

enum class Mode { Encoder, Decoder };

std::string layerPrefix(int64_t layer) {
  return "model.decoder.layers." + std::to_string(layer) + ".";
}

class TextGraph {
public:
  TextGraph(GraphEmitter &e, const ModelConfig &config, Mode mode)
      : e(e), t(config.text), mode(mode), batch(kDyn),
        tokens(mode == Mode::Decoder ? config.canvasLength : kDyn) {}

  /// The KV-cache pool type of one layer type, or null if no layer has it.
  Type cacheType(LayerType type) const;

  /// `E[ids] * sqrt(H)`, the scale rounded to the compute type first.
  Value embed(Value ids);
  /// The decoder's self-conditioning input: `noscale_norm(e + sc)`, where
  /// `soft` is the previous step's soft embedding.
  Value selfCondition(Value embedded, Value soft, Value scEnabled);
  /// The next step's soft embedding of `x` (in the compute type):
  /// `(softmax(x) in f32, cast to the compute type) @ E * sqrt(H)`.
  Value softEmbedding(Value x);
  Value layer(int64_t index, Value x, Value positions, Value committed);
  Value finalNorm(Value x) {
    return e.rmsNorm(x, StringRef("model.decoder.norm.weight"), t.rmsNormEps);
  }

  /// Cache arguments of the graph, by layer type.
  Value caches[2];
  /// Encoder only: the keys each token also sees (its image), `[B, T, 2]`.
  Value spans;

private:
  Value attention(int64_t index, Value x, Value positions, Value committed);
  Value mlp(StringRef prefix, Value x, int64_t width);
  Value moe(const std::string &prefix, Value residual);

  GraphEmitter &e;
  const TextConfig &t;
  Mode mode;
  int64_t batch;  // canvases or sequences: dynamic
  int64_t tokens; // per row: the canvas length, or dynamic in the encoder
};

Type TextGraph::cacheType(LayerType type) const {
  int64_t layers = t.countLayers(type);
  if (layers == 0)
    return {};
  const AttentionGeometry &g = t.geometry(type);
  return dg::KVCacheType::get(
      e.builder().getContext(),
      type == LayerType::Sliding ? dg::LayerKind::sliding : dg::LayerKind::full,
      layers, g.numKvHeads, g.headDim, g.window, e.dtype);
}

Value TextGraph::embed(Value ids) {
  GraphEmitter::Scope named(e, "embed");
  Value table = e.weight("model.decoder.embed_tokens.weight",
                         {t.vocabSize, t.hiddenSize});
  Value scale = e.scalar(std::sqrt(static_cast<double>(t.hiddenSize)));
  return e.mul(e.gather(table, ids), scale);
}

Value TextGraph::selfCondition(Value embedded, Value soft, Value scEnabled) {
  GraphEmitter::Scope named(e, "self_conditioning");
  // Zero where self-conditioning is off (the first step of a canvas).
  Value enabled = e.reshape(e.cast(scEnabled, e.dtype), {batch, 1, 1});
  soft = e.mul(soft, enabled);
  // sc = down(gelu_tanh(gate(n)) * up(n)), n = pre_norm(soft)
  std::string prefix = "model.decoder.self_conditioning.";
  Value n =
      e.rmsNorm(soft, StringRef(prefix + "pre_norm.weight"), t.rmsNormEps);
  Value sc = mlp(prefix, n, t.intermediateSize);
  return e.rmsNorm(e.add(embedded, sc), std::nullopt, t.rmsNormEps);
}

Value TextGraph::softEmbedding(Value x) {
  GraphEmitter::Scope named(e, "soft_embedding");
  Value table = e.weight("model.decoder.embed_tokens.weight",
                         {t.vocabSize, t.hiddenSize});
  Type f32 = e.builder().getF32Type();
  Value probs = e.cast(e.softmax(e.cast(x, f32), 2), e.dtype);
  Value soft = e.matmul(probs, table, /*transposeRhs=*/false);
  return e.mul(soft, e.scalar(std::sqrt(static_cast<double>(t.hiddenSize))));
}

Value TextGraph::mlp(StringRef prefix, Value x, int64_t width) {
  Value gate = e.linear(x, (prefix + "gate_proj.weight").str(), width);
  Value up = e.linear(x, (prefix + "up_proj.weight").str(), width);
  return e.linear(e.gatedGelu(gate, up), (prefix + "down_proj.weight").str(),
                  t.hiddenSize);
}

Value TextGraph::attention(int64_t index, Value x, Value positions,
                           Value committed) {
  GraphEmitter::Scope named(e, "self_attn");
  LayerType type = t.layerTypes[index];
  const AttentionGeometry &g = t.geometry(type);
  std::string p = layerPrefix(index) + "self_attn.";
  int64_t hd = g.headDim, kv = g.numKvHeads, heads = t.numHeads;
  double eps = t.rmsNormEps;

  auto project = [&](const char *name, int64_t n) {
    return e.reshape(e.linear(x, p + name + ".weight", n * hd),
                     {batch, tokens, n, hd});
  };
  auto rope = [&](Value v) {
    return e.rope(v, positions,
                  g.rope.type == RopeType::Proportional ? RopeKind::proportional
                                                        : RopeKind::default_,
                  g.rope.theta, g.rope.partialRotaryFactor);
  };
  std::optional<GraphEmitter::Scope> step;
  step.emplace(e, "norm_rope");
  Value q = rope(
      e.rmsNorm(project("q_proj", heads), StringRef(p + "q_norm.weight"), eps));
  Value kRaw = project("k_proj", kv);
  // Full layers have no v_proj: V is made from the raw k_proj output.
  Value vRaw = g.hasValueProjection ? project("v_proj", kv) : kRaw;
  Value k = rope(e.rmsNorm(kRaw, StringRef(p + "k_norm.weight"), eps));
  Value v = e.rmsNorm(vRaw, std::nullopt, eps);

  // Write this chunk's K/V, then read the request's whole visible range.
  step.reset();
  step.emplace(e, "kv_cache");
  Value cache = caches[type == LayerType::Sliding ? 0 : 1];
  int64_t slot = t.indexInType(index);
  Value lengths;
  if (mode == Mode::Decoder) {
    e.kvWrite(cache, slot, k, v, positions, /*scratch=*/true);
    lengths = e.add(committed, e.scalarI32(static_cast<int32_t>(tokens)));
  } else {
    e.kvWrite(cache, slot, k, v, positions, /*scratch=*/false);
    lengths = e.add(e.reduce(positions, ReduceKind::max, 1), e.scalarI32(1));
  }
  auto [keys, values, keyPositions] = e.kvRead(cache, slot, lengths);

  // Grouped-query broadcast, then softmax(q k^T * 1.0 + mask) v per head.
  step.reset();
  keys = e.transpose(e.repeatInterleave(keys, 2, heads / kv), {0, 2, 1, 3});
  values = e.transpose(e.repeatInterleave(values, 2, heads / kv), {0, 2, 1, 3});
  Value qT = e.transpose(q, {0, 2, 1, 3});
  Value scores = e.matmul(qT, keys, /*transposeRhs=*/true);
  Value mask;
  {
    GraphEmitter::Scope masking(e, "mask");
    mask = mode == Mode::Decoder ? e.mask(positions, keyPositions, committed,
                                          MaskKind::canvas, g.window)
                                 : e.mask(positions, keyPositions, Value(),
                                          MaskKind::causal, g.window, spans);
  }
  ArrayRef<int64_t> ms = GraphEmitter::shapeOf(mask);
  scores = e.add(scores, e.reshape(mask, {ms[0], 1, ms[1], ms[2]}));
  Type f32 = e.builder().getF32Type();
  Value probs = e.cast(e.softmax(e.cast(scores, f32), 3), e.dtype);
  Value out = e.transpose(e.matmul(probs, values, /*transposeRhs=*/false),
                          {0, 2, 1, 3});
  out = e.reshape(out, {batch, tokens, heads * hd});
  return e.linear(out, p + "o_proj.weight", t.hiddenSize);
}

Value TextGraph::moe(const std::string &p, Value residual) {
  GraphEmitter::Scope named(e, "moe");
  double eps = t.rmsNormEps;
  int64_t E = t.numExperts, I = t.moeIntermediateSize, H = t.hiddenSize;
  Type f32 = e.builder().getF32Type();

  // Router, on the raw residual: softmax over all experts in f32, top-k,
  // renormalised, scaled per expert; then spread to a dense [.., E] matrix.
  Value z = e.rmsNorm(residual, std::nullopt, eps);
  z = e.mul(z, e.weight(p + "router.scale", {H}));
  z = e.mul(z, e.scalar(1.0 / std::sqrt(static_cast<double>(H))));
  Value routerLogits = e.linear(z, p + "router.proj.weight", E);
  Value probs = e.softmax(e.cast(routerLogits, f32), 2);
  auto [topValues, topIndices] = e.topK(probs, t.topKExperts);
  Value sum = e.reduce(topValues, ReduceKind::sum, 2);
  Value w = e.div(topValues, e.reshape(sum, {batch, tokens, 1}));
  Value expertScale = e.cast(e.weight(p + "router.per_expert_scale", {E}), f32);
  w = e.mul(w, e.gather(expertScale, topIndices));
  Value dense = e.scatter(w, topIndices, E); // [B, T, E]

  // Every expert on every token, weighted by the dense routing matrix: the
  // exact semantics; fusion turns it into a grouped computation.
  Value x = e.rmsNorm(residual,
                      StringRef(p + "pre_feedforward_layernorm_2.weight"), eps);
  x = e.reshape(x, {batch, 1, tokens, H});
  Value gateUp =
      e.matmul(x, e.weight(p + "experts.gate_up_proj", {E, 2 * I, H}),
               /*transposeRhs=*/true); // [B, E, T, 2I]
  Value act = e.gatedGelu(e.slice(gateUp, 3, 0, I), e.slice(gateUp, 3, I, I));
  Value y = e.matmul(act, e.weight(p + "experts.down_proj", {E, H, I}),
                     /*transposeRhs=*/true); // [B, E, T, H]
  Value weights =
      e.reshape(e.transpose(dense, {0, 2, 1}), {batch, E, tokens, 1});
  Value combined = e.reduce(e.mul(e.cast(y, f32), weights), ReduceKind::sum, 1);
  return e.cast(combined, e.dtype);
}

Value TextGraph::layer(int64_t index, Value x, Value positions,
                       Value committed) {
  std::string p = layerPrefix(index);
  double eps = t.rmsNormEps;
  auto norm = [&](Value v, const char *name) {
    GraphEmitter::Scope named(e, "norms");
    return e.rmsNorm(v, StringRef(p + name + ".weight"), eps);
  };
  auto add = [&](Value a, Value b) {
    GraphEmitter::Scope named(e, "residual");
    return e.add(a, b);
  };

  Value attn =
      attention(index, norm(x, "input_layernorm"), positions, committed);
  Value r = add(x, norm(attn, "post_attention_layernorm"));

  Value dense = norm(
      mlp(p + "mlp.", norm(r, "pre_feedforward_layernorm"), t.intermediateSize),
      "post_feedforward_layernorm_1");
  Value experts = norm(moe(p, r), "post_feedforward_layernorm_2");
  Value out = add(r, norm(add(dense, experts), "post_feedforward_layernorm"));

  std::string scalar = mode == Mode::Encoder
                           ? "model.encoder.language_model.layers." +
                                 std::to_string(index) + ".layer_scalar"
                           : p + "layer_scalar";
  Value w = e.weight(scalar, {1});
  GraphEmitter::Scope named(e, "residual");
  return e.mul(out, w);
}

/// The cache arguments, named after their layer type.
void addCacheInputs(TextGraph &g, const TextConfig &t,
                    SmallVectorImpl<std::pair<StringRef, Type>> &inputs) {
  if (Type sliding = g.cacheType(LayerType::Sliding))
    inputs.push_back({"kv_cache_sliding", sliding});
  if (Type full = g.cacheType(LayerType::Full))
    inputs.push_back({"kv_cache_full", full});
}

void bindCaches(TextGraph &g, func::FuncOp func, size_t first) {
  size_t next = first;
  if (g.cacheType(LayerType::Sliding))
    g.caches[0] = func.getArgument(next++);
  if (g.cacheType(LayerType::Full))
    g.caches[1] = func.getArgument(next++);
}

} // namespace

void buildEncoderGraph(GraphEmitter &e, ModuleOp module,
                       const ModelConfig &config) {
  const TextConfig &t = config.text;
  TextGraph g(e, config, Mode::Encoder);
  Type i32 = e.builder().getI32Type();
  SmallVector<std::pair<StringRef, Type>> inputs = {
      {"tokens", e.tensor({kDyn, kDyn}, i32)},
      {"positions", e.tensor({kDyn, kDyn}, i32)},
  };
  // Prompts with images: the vision graph's soft tokens replace the
  // embeddings where `soft_token_mask` is 1 (not scaled), and with
  // bidirectional vision each image token also sees its whole image.
  bool images = config.vision.has_value();
  bool spans = images && t.bidirectionalVision;
  if (images) {
    inputs.push_back({"soft_tokens", e.tensor({kDyn, kDyn, t.hiddenSize})});
    inputs.push_back({"soft_token_mask", e.tensor({kDyn, kDyn})});
  }
  if (spans)
    inputs.push_back({"image_spans", e.tensor({kDyn, kDyn, 2}, i32)});
  size_t firstCache = inputs.size();
  addCacheInputs(g, t, inputs);
  func::FuncOp func =
      createGraph(e, module, "encoder", inputs,
                  {{"hidden_states", e.tensor({kDyn, kDyn, t.hiddenSize})}});
  bindCaches(g, func, firstCache);
  Value positions = func.getArgument(1);
  Value x = g.embed(func.getArgument(0));
  if (images) {
    // x * (1 - m) + soft * m: exact where m is 0 or 1.
    Value m = e.reshape(func.getArgument(3), {kDyn, kDyn, 1});
    Value keep = e.sub(e.scalar(1.0), m);
    x = e.add(e.mul(x, keep), e.mul(func.getArgument(2), m));
  }
  if (spans)
    g.spans = func.getArgument(4);
  for (int64_t i = 0; i < t.numLayers; ++i)
    x = g.layer(i, x, positions, Value());
  func::ReturnOp::create(e.builder(), module.getLoc(), g.finalNorm(x));
}

void buildDecoderGraph(GraphEmitter &e, ModuleOp module,
                       const ModelConfig &config) {
  const TextConfig &t = config.text;
  int64_t C = config.canvasLength, V = t.vocabSize, H = t.hiddenSize;
  TextGraph g(e, config, Mode::Decoder);
  OpBuilder &b = e.builder();
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  int64_t topK = std::min<int64_t>(kDecoderTopK, V);
  SmallVector<std::pair<StringRef, Type>> inputs = {
      {"canvas_tokens", e.tensor({kDyn, C}, i32)},
      {"committed_lengths", e.tensor({kDyn}, i32)},
      {"sc_soft", e.tensor({kDyn, C, H})},
      {"sc_enabled", e.tensor({kDyn}, b.getI1Type())},
      {"temperature", e.tensor({kDyn}, f32)},
      {"draw_seeds", e.tensor({kDyn, C}, i32)},
  };
  addCacheInputs(g, t, inputs);
  func::FuncOp func =
      createGraph(e, module, "decoder", inputs,
                  {{"scaled_logits", e.tensor({kDyn, C, V})},
                   {"argmax", e.tensor({kDyn, C}, i32)},
                   {"topk_probs", e.tensor({kDyn, C, topK}, f32)},
                   {"topk_ids", e.tensor({kDyn, C, topK}, i32)},
                   {"entropy", e.tensor({kDyn, C}, f32)},
                   {"sample", e.tensor({kDyn, C}, i32)},
                   {"sc_soft_out", e.tensor({kDyn, C, H})}});
  bindCaches(g, func, 6);
  Value canvas = func.getArgument(0), committed = func.getArgument(1);

  // The canvas occupies positions L .. L+C-1 of its request.
  Value positions = e.add(e.reshape(committed, {kDyn, 1}), e.iota(C)); // [B, C]
  Value x = g.selfCondition(g.embed(canvas), func.getArgument(2),
                            func.getArgument(3));
  for (int64_t i = 0; i < t.numLayers; ++i)
    x = g.layer(i, x, positions, committed);

  // Head: fp32 logits of the tied embedding, softcapped, over temperature.
  std::optional<GraphEmitter::Scope> named;
  named.emplace(e, "lm_head");
  Value table =
      e.weight("model.decoder.embed_tokens.weight", {V, t.hiddenSize});
  Value logits = e.matmul(g.finalNorm(x), table, /*transposeRhs=*/true, f32);
  if (t.finalLogitSoftcapping > 0) {
    Value cap = e.scalar(t.finalLogitSoftcapping, f32);
    logits = e.mul(e.tanh(e.div(logits, cap)), cap);
  }
  Value scaled = e.div(logits, e.reshape(func.getArgument(4), {kDyn, 1, 1}));

  // Statistics of softmax(x) over the whole vocabulary.
  named.reset();
  named.emplace(e, "sampler");
  Value probs = e.softmax(scaled, 2);
  Value entropy = e.sub(e.reduce(scaled, ReduceKind::logsumexp, 2),
                        e.reduce(e.mul(probs, scaled), ReduceKind::sum, 2));
  auto [topProbs, topIds] = e.topK(probs, topK);
  // The draw and the next step's conditioning use x as the compute type
  // stores it. Passing its [C, H] soft embedding rather than the [C, V] x
  // keeps the vocabulary-wide tensor out of the step's inputs, and drawing
  // here keeps it out of what the host needs.
  Value stored = e.cast(scaled, e.dtype);
  Value sample = e.categoricalSample(stored, func.getArgument(5));
  Value argmax = e.argmax(scaled);
  named.reset();
  Value soft = g.softEmbedding(stored);
  func::ReturnOp::create(
      b, module.getLoc(),
      ValueRange{stored, argmax, topProbs, topIds, entropy, sample, soft});
}

} // namespace dgc
