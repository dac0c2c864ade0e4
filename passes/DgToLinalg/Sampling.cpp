//===- Sampling.cpp - dg.sample on the host: its primitives ---------------===//
//
// The host lowers dg.sample by re-emitting the primitives it stands for,
// which the conversion then lowers: the same numbers as the unfused graph.
// (A one-pass kernel over logits tiles is the GPU target's business.)
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

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
    Value probs = dg::SoftmaxOp::create(rewriter, loc, x, 2);
    auto rowType = tensorType(op.getEntropy());
    Value lse = dg::ReduceOp::create(rewriter, loc, rowType, x,
                                     dg::ReduceKind::logsumexp, 2);
    Value px = dg::MulOp::create(rewriter, loc, f32Type, probs, x);
    Value sum = dg::ReduceOp::create(rewriter, loc, rowType, px,
                                     dg::ReduceKind::sum, 2);
    Value entropy = dg::SubOp::create(rewriter, loc, rowType, lse, sum);
    auto top =
        dg::TopKOp::create(rewriter, loc, op.getTopkProbs().getType(),
                           op.getTopkIds().getType(), probs, op.getTopK());
    Value argmax =
        dg::ArgmaxOp::create(rewriter, loc, op.getArgmax().getType(), x);
    Value logits = x;
    if (out.getElementType() != f32)
      logits = dg::CastOp::create(rewriter, loc, out, x);
    rewriter.replaceOp(
        op, {logits, argmax, top.getValues(), top.getIndices(), entropy});
    return success();
  }
};

} // namespace

void populateSamplingPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSample>(patterns.getContext());
}

} // namespace dgc::lowering
