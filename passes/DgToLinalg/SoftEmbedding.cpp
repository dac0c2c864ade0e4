//===- SoftEmbedding.cpp - dg.soft_embedding to linalg --------------------===//
//
// The row's softmax statistics in one pass (max and sum of exponentials,
// RowStatistics.h), then the probabilities exp(x - max) / sum computed in
// f32 and stored rounded to the table's type, then their product with the
// table and the scale. No [positions x vocabulary] f32 tensor exists: the
// statistics are per row, and the probabilities are stored once in the
// table's type, which the op's contract rounds them to anyway.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

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
    Type dt = out.getElementType();
    SmallVector<Value> stats = rowStatistics(rewriter, loc, op.getLogits());
    Value probs =
        mapRows(rewriter, loc, op.getLogits(), {stats[0], stats[1]}, {},
                lt.getRank() - 1, RankedTensorType::get(lt.getShape(), dt),
                [](OpBuilder &b, Location l, ValueRange a) -> Value {
                  Value shifted = arith::SubFOp::create(b, l, a[0], a[1]);
                  return arith::DivFOp::create(
                      b, l, math::ExpOp::create(b, l, shifted), a[2]);
                });
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

void populateSoftEmbeddingPatterns(RewritePatternSet &patterns,
                                   const LoweringOptions &) {
  patterns.add<LowerSoftEmbedding>(patterns.getContext());
}

} // namespace dgc::lowering
