//===- Attention.cpp - dg.attention on the host: its primitives -----------===//
//
// Re-emitted as the primitives it stands for (norms, RoPE, the cache write
// and read, the mask) around dg.masked_attention, whose own pattern expands
// it into GQA, both products and the masked softmax in f32: the unfused
// graph's numbers. With flash attention asked for, bf16 cores stay whole
// for the CUDA target's kernel.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

struct LowerAttention : OpRewritePattern<dg::AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::AttentionOp op,
                                PatternRewriter &rewriter) const override {
    // Each step's ops carry its name (dg-gpu-name-kernels names kernels
    // after it); the core keeps the op's.
    auto step = [&](StringRef name) -> Location {
      return NameLoc::get(rewriter.getStringAttr(name), op.getLoc());
    };
    Location loc = op.getLoc();
    RankedTensorType qt = tensorType(op.getQ()), kt = tensorType(op.getK());
    Type dt = qt.getElementType(), i32 = rewriter.getI32Type();
    double eps = op.getEpsilon().convertToDouble();
    int64_t b = qt.getDimSize(0), t = qt.getDimSize(1);
    int64_t hd = qt.getDimSize(3), kvHeads = kt.getDimSize(2);
    int64_t dyn = ShapedType::kDynamic;
    Value positions = op.getPositions(), cache = op.getCache();
    int64_t layer = op.getLayer();
    auto type = [](ArrayRef<int64_t> shape, Type e) {
      return RankedTensorType::get(shape, e);
    };
    auto i32Scalar = [&](int32_t v) -> Value {
      return arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(type({}, i32), rewriter.getI32IntegerAttr(v)));
    };
    Location normRope = step("norm_rope");
    auto rope = [&](Value x) -> Value {
      return dg::RopeOp::create(rewriter, normRope, x.getType(), x, positions,
                                op.getRopeAttr(), op.getThetaAttr(),
                                op.getPartialRotaryFactorAttr());
    };
    Value q = rope(dg::RMSNormOp::create(rewriter, normRope, op.getQ(),
                                         op.getQNorm(), eps));
    Value k = rope(dg::RMSNormOp::create(rewriter, normRope, op.getK(),
                                         op.getKNorm(), eps));
    Value v =
        dg::RMSNormOp::create(rewriter, normRope, op.getV(), Value(), eps);
    Value keys = k, values = v, keyPositions = op.getKeyPositions();
    Value committed = op.getCommittedLengths();
    int64_t keyCount = kt.getDimSize(1);
    if (cache) {
      dg::KVCacheWriteOp::create(rewriter, step("kv_write"), cache, k, v,
                                 positions, layer, op.getScratch());
      Value lengths;
      auto rowType = type({b}, i32);
      if (committed) {
        lengths = dg::AddOp::create(rewriter, loc, rowType, committed,
                                    i32Scalar(static_cast<int32_t>(t)));
      } else {
        Value last = dg::ReduceOp::create(rewriter, loc, rowType, positions,
                                          dg::ReduceKind::max, 1);
        lengths = dg::AddOp::create(rewriter, loc, rowType, last, i32Scalar(1));
      }
      auto rows = type({b, dyn, kvHeads, hd}, dt);
      auto read =
          dg::KVCacheReadOp::create(rewriter, step("kv_read"), rows, rows,
                                    type({b, dyn}, i32), cache, lengths, layer);
      keys = read.getKeys();
      values = read.getValues();
      keyPositions = read.getPositions();
      keyCount = dyn;
    }
    // Uncached: every valid key of the chunk (the mask's query side is the
    // same positions, as the vision graph writes it).
    Value queryPositions = cache ? positions : keyPositions;
    Value mask =
        dg::MaskOp::create(rewriter, step("mask"), type({b, t, keyCount}, dt),
                           queryPositions, keyPositions, committed,
                           op.getSpans(), op.getMaskAttr(), op.getWindowAttr());
    SmallVector<Value> sizes;
    for (auto [i, size] : llvm::enumerate(qt.getShape()))
      if (ShapedType::isDynamic(size))
        sizes.push_back(tensor::DimOp::create(rewriter, loc, q, i));
    Value init =
        tensor::EmptyOp::create(rewriter, loc, qt.getShape(), dt, sizes);
    rewriter.replaceOpWithNewOp<dg::MaskedAttentionOp>(op, qt, q, keys, values,
                                                       mask, /*rows=*/Value(),
                                                       init, op.getScaleAttr());
    return success();
  }
};

/// The core as the unfused primitives: GQA by repeating K/V heads, both
/// products through head-major copies, the masked softmax in f32.
struct LowerMaskedAttention : OpRewritePattern<dg::MaskedAttentionOp> {
  LowerMaskedAttention(MLIRContext *ctx, bool flashAttention)
      : OpRewritePattern(ctx), flashAttention(flashAttention) {}

  LogicalResult matchAndRewrite(dg::MaskedAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getResult() || isLeftWhole(op, flashAttention))
      return failure();
    Location loc = op.getLoc();
    RankedTensorType qt = tensorType(op.getQ());
    RankedTensorType kt = tensorType(op.getKeys());
    Type dt = qt.getElementType(), f32 = rewriter.getF32Type();
    int64_t b = qt.getDimSize(0), t = qt.getDimSize(1);
    int64_t heads = qt.getDimSize(2), hd = qt.getDimSize(3);
    int64_t keyCount = kt.getDimSize(1), kvHeads = kt.getDimSize(2);
    Value q = op.getQ(), keys = op.getKeys(), values = op.getValues();
    auto type = [](ArrayRef<int64_t> shape, Type e) {
      return RankedTensorType::get(shape, e);
    };
    auto headMajor = [&](Value x) -> Value {
      ArrayRef<int64_t> s = tensorType(x).getShape();
      return dg::TransposeOp::create(rewriter, loc,
                                     type({s[0], s[2], s[1], s[3]}, dt), x,
                                     ArrayRef<int64_t>{0, 2, 1, 3});
    };
    auto grouped = [&](Value x) -> Value {
      if (heads == kvHeads)
        return x;
      return dg::RepeatInterleaveOp::create(rewriter, loc,
                                            type({b, keyCount, heads, hd}, dt),
                                            x, 2, heads / kvHeads);
    };
    keys = headMajor(grouped(keys));
    values = headMajor(grouped(values));
    auto scoreType = type({b, heads, t, keyCount}, dt);
    Value scores = dg::MatmulOp::create(rewriter, loc, scoreType, headMajor(q),
                                        keys, false, true);
    if (double scale = op.getScale().convertToDouble(); scale != 1.0)
      scores = dg::MulOp::create(
          rewriter, loc, scoreType, scores,
          arith::ConstantOp::create(
              rewriter, loc,
              DenseElementsAttr::get(type({}, dt), FloatAttr::get(dt, scale))));
    Value mask = dg::ReshapeOp::create(
        rewriter, loc, type({b, 1, t, keyCount}, dt), op.getMask());
    scores = dg::AddOp::create(rewriter, loc, scoreType, scores, mask);
    Value probs = scores;
    if (dt != f32)
      probs = dg::CastOp::create(rewriter, loc,
                                 type({b, heads, t, keyCount}, f32), probs);
    probs = dg::SoftmaxOp::create(rewriter, loc, probs, 3);
    if (dt != f32)
      probs = dg::CastOp::create(rewriter, loc, scoreType, probs);
    Value out = dg::MatmulOp::create(rewriter, loc, type({b, heads, t, hd}, dt),
                                     probs, values, false, false);
    rewriter.replaceOp(op, headMajor(out));
    return success();
  }

  bool flashAttention;
};

} // namespace

void populateAttentionPatterns(RewritePatternSet &patterns,
                               const LoweringOptions &options) {
  patterns.add<LowerAttention>(patterns.getContext());
  patterns.add<LowerMaskedAttention>(patterns.getContext(),
                                     options.flashAttention);
}

bool isLeftWhole(dg::MaskedAttentionOp op, bool flashAttention) {
  return flashAttention && getElementTypeOrSelf(op.getQ().getType()).isBF16();
}

} // namespace dgc::lowering
