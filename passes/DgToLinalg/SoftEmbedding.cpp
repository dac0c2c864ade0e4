//===- SoftEmbedding.cpp - dg.soft_embedding on the host ------------------===//
//
// Re-emitted as its primitives (softmax in f32, rounded, @ E, * scale): the
// unfused graph's numbers.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

struct LowerSoftEmbedding : OpRewritePattern<dg::SoftEmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::SoftEmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType lt = tensorType(op.getLogits());
    RankedTensorType out = tensorType(op.getResult());
    Type f32 = rewriter.getF32Type(), dt = out.getElementType();
    Value x = op.getLogits();
    if (lt.getElementType() != f32)
      x = dg::CastOp::create(rewriter, loc,
                             RankedTensorType::get(lt.getShape(), f32), x);
    Value probs = dg::SoftmaxOp::create(rewriter, loc, x, lt.getRank() - 1);
    if (dt != f32)
      probs = dg::CastOp::create(
          rewriter, loc, RankedTensorType::get(lt.getShape(), dt), probs);
    Value soft = dg::MatmulOp::create(rewriter, loc, out, probs,
                                      op.getEmbedding(), false, false);
    Value scale = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({}, dt),
            FloatAttr::get(dt, op.getScale().convertToDouble())));
    rewriter.replaceOpWithNewOp<dg::MulOp>(op, out, soft, scale);
    return success();
  }
};

} // namespace

void populateSoftEmbeddingPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSoftEmbedding>(patterns.getContext());
}

} // namespace dgc::lowering
