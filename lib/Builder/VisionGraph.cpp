//===- VisionGraph.cpp - The vision graph: image patches -> soft tokens ---===//
//
// The Gemma 4 vision tower (the model spec, section 4): input projection, the
// two learned position tables, bidirectional pre/post-norm layers with 2-D
// RoPE, 3x3 average pooling by patch position, the sqrt(width) scale,
// standardisation, and the projection to the text width.
//
// Each image arrives as a fixed budget of `soft_tokens * k * k` patches
// (k = pooling kernel), padded with position -1; output row j of an image is
// its j-th soft token, and rows past the image's soft-token count are padding.
//
//===----------------------------------------------------------------------===//

#include "Graphs.h"

#include <cmath>

using namespace mlir;

namespace dgc {

void buildVisionGraph(GraphEmitter &e, ModuleOp module,
                      const ModelConfig &config) {
  const VisionConfig &v = *config.vision;
  constexpr int64_t kDyn = ShapedType::kDynamic;
  int64_t W = v.hiddenSize, hd = v.headDim, heads = v.numHeads;
  int64_t kv = v.numKvHeads, k = v.poolingKernelSize;
  int64_t softTokens = config.visionSoftTokensPerImage;
  int64_t patches = softTokens * k * k;
  int64_t patchValues = 3 * v.patchSize * v.patchSize;
  double eps = v.rmsNormEps;
  Type i32 = e.builder().getI32Type();
  const std::string tower = "model.encoder.vision_tower.";

  func::FuncOp func = createGraph(
      e, module, "vision",
      {{"pixel_patches", e.tensor({kDyn, patches, patchValues})},
       {"patch_positions", e.tensor({kDyn, patches, 2}, i32)}},
      {{"soft_tokens", e.tensor({kDyn, softTokens, config.text.hiddenSize})}});
  Value pixels = func.getArgument(0), positions = func.getArgument(1);
  GraphEmitter::Scope named(e, "vision");

  // Patch embedding: pixels in [0, 1] -> [-1, 1] -> width, plus the x and y
  // position tables (a padding position of -1 reads a zero row).
  Value x = e.mul(e.sub(pixels, e.scalar(0.5)), e.scalar(2.0));
  x = e.linear(x, tower + "patch_embedder.input_proj.weight", W);
  Value tables = e.weight(tower + "patch_embedder.position_embedding_table",
                          {2, v.positionEmbeddingSize, W});
  Value columns = e.reshape(e.slice(positions, 2, 0, 1), {kDyn, patches});
  Value rows = e.reshape(e.slice(positions, 2, 1, 1), {kDyn, patches});
  for (auto [axis, coords] : {std::pair{0, columns}, std::pair{1, rows}}) {
    Value table =
        e.reshape(e.slice(tables, 0, axis, 1), {v.positionEmbeddingSize, W});
    x = e.add(x, e.gather(table, coords));
  }

  // Bidirectional attention over the valid patches of each image.
  Value mask =
      e.mask(columns, columns, Value(), dg::MaskKind::bidirectional, 0);
  mask = e.reshape(mask, {kDyn, 1, patches, patches});
  Type f32 = e.builder().getF32Type();
  for (int64_t i = 0; i < v.numLayers; ++i) {
    std::string p = tower + "encoder.layers." + std::to_string(i) + ".";
    auto norm = [&](Value h, const char *name) {
      return e.rmsNorm(h, StringRef(p + name + ".weight"), eps);
    };
    auto project = [&](Value h, const char *name, int64_t n) {
      return e.reshape(
          e.linear(h, p + "self_attn." + name + ".linear.weight", n * hd),
          {kDyn, patches, n, hd});
    };
    auto rope = [&](Value h) {
      return e.rope(h, positions, dg::RopeKind::two_d, v.ropeTheta);
    };
    Value h = norm(x, "input_layernorm");
    Value q = rope(e.rmsNorm(project(h, "q_proj", heads),
                             StringRef(p + "self_attn.q_norm.weight"), eps));
    Value key = rope(e.rmsNorm(project(h, "k_proj", kv),
                               StringRef(p + "self_attn.k_norm.weight"), eps));
    Value val = e.rmsNorm(project(h, "v_proj", kv), std::nullopt, eps);
    key = e.transpose(e.repeatInterleave(key, 2, heads / kv), {0, 2, 1, 3});
    val = e.transpose(e.repeatInterleave(val, 2, heads / kv), {0, 2, 1, 3});
    Value scores =
        e.add(e.matmul(e.transpose(q, {0, 2, 1, 3}), key, true), mask);
    Value probs = e.cast(e.softmax(e.cast(scores, f32), 3), e.dtype);
    Value o = e.transpose(e.matmul(probs, val, false), {0, 2, 1, 3});
    o = e.linear(e.reshape(o, {kDyn, patches, heads * hd}),
                 p + "self_attn.o_proj.linear.weight", W);
    x = e.add(x, norm(o, "post_attention_layernorm"));

    h = norm(x, "pre_feedforward_layernorm");
    std::string m = p + "mlp.";
    Value gate = e.linear(h, m + "gate_proj.linear.weight", v.intermediateSize);
    Value up = e.linear(h, m + "up_proj.linear.weight", v.intermediateSize);
    Value mlp =
        e.linear(e.gatedGelu(gate, up), m + "down_proj.linear.weight", W);
    x = e.add(x, norm(mlp, "post_feedforward_layernorm"));
  }

  // Pool k x k patches into one soft token, scale, standardise, project.
  Value pooled = e.patchPool(x, positions, k, softTokens);
  pooled = e.mul(pooled, e.scalar(std::sqrt(static_cast<double>(W))));
  if (v.standardize) {
    pooled = e.sub(pooled, e.weight(tower + "std_bias", {W}));
    pooled = e.mul(pooled, e.weight(tower + "std_scale", {W}));
  }
  Value soft =
      e.linear(e.rmsNorm(pooled, std::nullopt, eps),
               "model.encoder.embed_vision.embedding_projection.weight",
               config.text.hiddenSize);
  func::ReturnOp::create(e.builder(), module.getLoc(), soft);
}

} // namespace dgc
