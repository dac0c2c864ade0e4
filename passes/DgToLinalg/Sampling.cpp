//===- Sampling.cpp - dg.sample: the head and one pass of statistics ------===//
//
// dg.sample becomes the LM head (a matmul, then softcap and temperature as
// elementwise ops), one pass over each row of the logits for its softmax
// statistics (max, sum of exponentials, entropy, argmax; RowStatistics.h),
// and a top-k whose probabilities come from those statistics. No
// [positions x vocabulary] probabilities are made: the unfused graph's
// softmax, log-sum-exp, p * x and argmax are four more passes over the
// logits and two more such temporaries.
//
// When the op returns its logits rounded (bf16), the f32 logits need not
// outlive the head: the statistics read the raw product and apply softcap
// and temperature themselves, and the top-k runs on the rounded logits.
// Rounding keeps order (x > y implies round(x) >= round(y)), so the f32
// top-k lies among the k + `candidates` largest rounded logits unless more
// than `candidates` of them tie with the k-th: their f32 values are
// recomputed (a dot product each) and the top-k taken among them. The
// CUDA target then folds the statistics into the head's GEMM, which writes
// only the rounded logits (dg-gpu-tensor-core-contractions).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

/// The head's value of one raw product `l` (f32) at temperature `t`:
/// softcapped tanh(l / cap) * cap when cap > 0, then divided by t.
Value headValue(OpBuilder &b, Location loc, Value l, Value t, double cap) {
  if (cap > 0) {
    Value c = scalarConstant(b, loc, b.getF32Type(), cap);
    l = arith::MulFOp::create(
        b, loc,
        math::TanhOp::create(b, loc, arith::DivFOp::create(b, loc, l, c)), c);
  }
  return arith::DivFOp::create(b, loc, l, t);
}

/// The probabilities of the top-k values and the entropy, from the
/// statistics (max, sum of exponentials, sum of p * (x - max)).
std::pair<Value, FailureOr<Value>>
probabilitiesAndEntropy(OpBuilder &b, Location loc, dg::SampleOp op,
                        ValueRange stats, Value topValues) {
  Value max = stats[0], sumExp = stats[1], sumShifted = stats[2];
  // entropy = logsumexp(x) - sum p x = log s - u / s.
  FailureOr<Value> entropy = elementwise(
      b, loc, tensorType(op.getEntropy()), {sumExp, sumShifted},
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::SubFOp::create(nb, l, math::LogOp::create(nb, l, a[0]),
                                     arith::DivFOp::create(nb, l, a[1], a[0]));
      });
  auto probsType = tensorType(op.getTopkProbs());
  Value probs =
      mapRows(b, loc, topValues, {max, sumExp}, {}, probsType.getRank() - 1,
              probsType, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                Value shifted = arith::SubFOp::create(nb, l, a[0], a[1]);
                return arith::DivFOp::create(
                    nb, l, math::ExpOp::create(nb, l, shifted), a[2]);
              });
  return {probs, entropy};
}

struct LowerSample : OpRewritePattern<dg::SampleOp> {
  LowerSample(MLIRContext *ctx, int64_t candidates)
      : OpRewritePattern(ctx), candidates(candidates) {}

  LogicalResult matchAndRewrite(dg::SampleOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType out = tensorType(op.getLogits());
    int64_t vocab = tensorType(op.getEmbedding()).getDimSize(0);
    int64_t k = op.getTopK();
    int64_t extra = std::min(candidates, vocab - k);
    if (!out.getElementType().isF32() && extra > 0)
      return rewriteRounded(op, rewriter, extra);
    return rewriteExact(op, rewriter);
  }

  /// x in f32, read by the statistics, the top-k and the rounding.
  LogicalResult rewriteExact(dg::SampleOp op, PatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    RankedTensorType out = tensorType(op.getLogits());
    auto f32Type = RankedTensorType::get(out.getShape(), f32);
    auto scalar = [&](double v) -> Value {
      return arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(RankedTensorType::get({}, f32),
                                 rewriter.getF32FloatAttr(v)));
    };
    Value x = dg::MatmulOp::create(rewriter, loc, f32Type, op.getHidden(),
                                   op.getEmbedding(), /*transpose_lhs=*/false,
                                   /*transpose_rhs=*/true);
    if (double cap = op.getSoftcap().convertToDouble(); cap > 0) {
      Value c = scalar(cap);
      x = dg::DivOp::create(rewriter, loc, f32Type, x, c);
      x = dg::TanhOp::create(rewriter, loc, x);
      x = dg::MulOp::create(rewriter, loc, f32Type, x, c);
    }
    int64_t batch = out.getDimSize(0);
    Value temperature = dg::ReshapeOp::create(
        rewriter, loc, RankedTensorType::get({batch, 1, 1}, f32),
        op.getTemperature());
    x = dg::DivOp::create(rewriter, loc, f32Type, x, temperature);
    SmallVector<Value> stats = rowStatistics(rewriter, loc, x);
    // The k largest logits are the k largest probabilities; ties still go
    // to the lower id.
    auto probsType = tensorType(op.getTopkProbs());
    auto top = dg::TopKOp::create(
        rewriter, loc, RankedTensorType::get(probsType.getShape(), f32),
        op.getTopkIds().getType(), x, op.getTopK());
    auto [probs, entropy] =
        probabilitiesAndEntropy(rewriter, loc, op, stats, top.getValues());
    if (failed(entropy))
      return failure();
    Value logits = x;
    if (out.getElementType() != f32)
      logits = dg::CastOp::create(rewriter, loc, out, x);
    rewriter.replaceOp(op,
                       {logits, stats[3], probs, top.getIndices(), *entropy});
    return success();
  }

  /// The raw product in f32, read only by the statistics and the rounding;
  /// the top-k from `extra` candidates beyond k among the rounded logits.
  LogicalResult rewriteRounded(dg::SampleOp op, PatternRewriter &rewriter,
                               int64_t extra) const {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    RankedTensorType out = tensorType(op.getLogits());
    double cap = op.getSoftcap().convertToDouble();
    int64_t k = op.getTopK(), width = k + extra;
    Value hidden = op.getHidden(), table = op.getEmbedding();
    SmallVector<Value> rowSizes = dynamicSizesWithout(rewriter, loc, hidden, 2);
    ArrayRef<int64_t> rowShape = out.getShape().drop_back();
    auto rowsOf = [&](int64_t n, Type element) {
      return RankedTensorType::get({rowShape[0], rowShape[1], n}, element);
    };
    // Each row's temperature, [B, S].
    auto f32Rows = RankedTensorType::get(rowShape, f32);
    Value temperature =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{f32Rows}, ValueRange{op.getTemperature()},
            ValueRange{emptyTensor(rewriter, loc, f32Rows, rowSizes)},
            ArrayRef<AffineMap>{AffineMap::get(2, 0, getAffineDimExpr(0, ctx)),
                                rewriter.getMultiDimIdentityMap(2)},
            parallelLoops(2),
            [](OpBuilder &b, Location l, ValueRange a) {
              linalg::YieldOp::create(b, l, toF32(b, l, a[0]));
            })
            .getResult(0);
    auto head = [cap](OpBuilder &b, Location l, Value raw, ValueRange t) {
      return headValue(b, l, raw, t[0], cap);
    };

    Value raw = dg::MatmulOp::create(
        rewriter, loc, RankedTensorType::get(out.getShape(), f32), hidden,
        table, /*transpose_lhs=*/false, /*transpose_rhs=*/true);
    Value logits = mapRows(rewriter, loc, raw, {temperature}, {}, 2, out,
                           [cap](OpBuilder &b, Location l, ValueRange a) {
                             return headValue(b, l, a[0], a[1], cap);
                           });
    SmallVector<Value> stats =
        rowStatistics(rewriter, loc, raw, {temperature}, head);

    // The candidates: the `width` largest rounded logits, then their f32
    // values, each a dot product of the row's hidden state with the id's
    // embedding, in f32 like the head's GEMM.
    auto candidates =
        dg::TopKOp::create(rewriter, loc, rowsOf(width, out.getElementType()),
                           rowsOf(width, i32), logits, width);
    Value candidateIds = candidates.getIndices();
    AffineMap rowJ =
        AffineMap::get(4, 0,
                       {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                        getAffineDimExpr(2, ctx)},
                       ctx);
    AffineMap rowH =
        AffineMap::get(4, 0,
                       {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                        getAffineDimExpr(3, ctx)},
                       ctx);
    SmallVector<utils::IteratorType> dotLoops = parallelLoops(4);
    dotLoops.back() = utils::IteratorType::reduction;
    Value dots =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf(width, f32)},
            ValueRange{hidden, candidateIds},
            ValueRange{filledTensor(rewriter, loc, rowsOf(width, f32), rowSizes,
                                    rewriter.getF32FloatAttr(0))},
            ArrayRef<AffineMap>{rowH, rowJ, rowJ}, dotLoops,
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value id =
                  arith::IndexCastOp::create(b, l, b.getIndexType(), a[1]);
              Value e = tensor::ExtractOp::create(
                  b, l, table,
                  ValueRange{id, linalg::IndexOp::create(b, l, 3)});
              Value product = arith::MulFOp::create(b, l, toF32(b, l, a[0]),
                                                    toF32(b, l, e));
              Value sum = arith::AddFOp::create(b, l, a[2], product);
              linalg::YieldOp::create(b, l, sum);
            })
            .getResult(0);
    Value candidateX =
        mapRows(rewriter, loc, dots, {temperature}, {}, 2, rowsOf(width, f32),
                [cap](OpBuilder &b, Location l, ValueRange a) {
                  return headValue(b, l, a[0], a[1], cap);
                });
    // Among equal f32 values the rounded ones are equal too, and the
    // candidates are then in id order: the top-k's tie to the lower
    // position is its tie to the lower id.
    auto top = dg::TopKOp::create(rewriter, loc, rowsOf(k, f32), rowsOf(k, i32),
                                  candidateX, k);
    Value ids =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf(k, i32)},
            ValueRange{top.getIndices()},
            ValueRange{emptyTensor(rewriter, loc, rowsOf(k, i32), rowSizes)},
            ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(3),
                                rewriter.getMultiDimIdentityMap(3)},
            parallelLoops(3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value at =
                  arith::IndexCastOp::create(b, l, b.getIndexType(), a[0]);
              Value id = tensor::ExtractOp::create(
                  b, l, candidateIds,
                  ValueRange{linalg::IndexOp::create(b, l, 0),
                             linalg::IndexOp::create(b, l, 1), at});
              linalg::YieldOp::create(b, l, id);
            })
            .getResult(0);
    auto [probs, entropy] =
        probabilitiesAndEntropy(rewriter, loc, op, stats, top.getValues());
    if (failed(entropy))
      return failure();
    rewriter.replaceOp(op, {logits, stats[3], probs, ids, *entropy});
    return success();
  }

  int64_t candidates;
};

} // namespace

void populateSamplingPatterns(RewritePatternSet &patterns, int64_t candidates) {
  patterns.add<LowerSample>(patterns.getContext(), candidates);
}

} // namespace dgc::lowering
