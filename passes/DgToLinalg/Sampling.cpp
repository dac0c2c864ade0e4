//===- Sampling.cpp - dg.sample: the head and one pass of statistics ------===//
//
// dg.sample becomes the LM head (a matmul, then softcap and temperature as
// elementwise ops), one pass over each row of the logits for its softmax
// statistics (max, sum of exponentials, entropy, argmax; RowStatistics.h),
// and a top-k over the logits themselves, whose probabilities come from
// those statistics. No [positions x vocabulary] probabilities are made: the
// unfused graph's softmax, log-sum-exp, p * x and argmax are four more
// passes over the logits and two more such temporaries.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

struct LowerSample : OpRewritePattern<dg::SampleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::SampleOp op,
                                PatternRewriter &rewriter) const override {
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
    Value max = stats[0], sumExp = stats[1], sumShifted = stats[2];
    // entropy = logsumexp(x) - sum p x = log s - u / s.
    auto entropyType = tensorType(op.getEntropy());
    FailureOr<Value> entropy = elementwise(
        rewriter, loc, entropyType, {sumExp, sumShifted},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::SubFOp::create(b, l, math::LogOp::create(b, l, a[0]),
                                       arith::DivFOp::create(b, l, a[1], a[0]));
        });
    if (failed(entropy))
      return failure();
    // The k largest logits are the k largest probabilities; ties still go
    // to the lower id.
    auto probsType = tensorType(op.getTopkProbs());
    auto top = dg::TopKOp::create(
        rewriter, loc, RankedTensorType::get(probsType.getShape(), f32),
        op.getTopkIds().getType(), x, op.getTopK());
    Value topkProbs =
        mapRows(rewriter, loc, top.getValues(), {max, sumExp}, {},
                probsType.getRank() - 1, probsType,
                [](OpBuilder &b, Location l, ValueRange a) -> Value {
                  Value shifted = arith::SubFOp::create(b, l, a[0], a[1]);
                  return arith::DivFOp::create(
                      b, l, math::ExpOp::create(b, l, shifted), a[2]);
                });
    Value logits = x;
    if (out.getElementType() != f32)
      logits = dg::CastOp::create(rewriter, loc, out, x);
    rewriter.replaceOp(
        op, {logits, stats[3], topkProbs, top.getIndices(), *entropy});
    return success();
  }
};

} // namespace

void populateSamplingPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSample>(patterns.getContext());
}

} // namespace dgc::lowering
