//===- Contractions.cpp - dg.matmul to linalg.generic ---------------------===//
//
// One generic with the batch loops (NumPy-broadcast), m, n and a k reduction,
// accumulating products in f32; a second elementwise generic rounds to the
// result type when it is not f32. The loops nest as batch, m, n, k when the
// rhs is [n, k] (transposed: the innermost loop walks both operands' rows)
// and as batch, m, k, n when it is [k, n], so that the innermost loop reads
// the rhs contiguously rather than a row apart (the host's self-conditioning
// product over a 262144-row embedding was 80 times slower the other way).
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

struct LowerMatmul : OpRewritePattern<dg::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    RankedTensorType lt = tensorType(lhs), rt = tensorType(rhs);
    RankedTensorType resultType = tensorType(op.getResult());
    int64_t nb = resultType.getRank() - 2;
    ArrayRef<int64_t> batch = resultType.getShape().drop_back(2);

    bool kInner = op.getTransposeRhs();
    AffineExpr m = getAffineDimExpr(nb, ctx),
               n = getAffineDimExpr(kInner ? nb + 1 : nb + 2, ctx),
               k = getAffineDimExpr(kInner ? nb + 2 : nb + 1, ctx);
    auto operandMap = [&](RankedTensorType t, AffineExpr row, AffineExpr col) {
      SmallVector<AffineExpr> exprs(
          broadcastMap(ctx, t.getShape().drop_back(2), batch).getResults());
      exprs.push_back(row);
      exprs.push_back(col);
      return AffineMap::get(nb + 3, 0, exprs, ctx);
    };
    AffineMap lhsMap =
        op.getTransposeLhs() ? operandMap(lt, k, m) : operandMap(lt, m, k);
    AffineMap rhsMap =
        op.getTransposeRhs() ? operandMap(rt, n, k) : operandMap(rt, k, n);
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < nb; ++i)
      outExprs.push_back(getAffineDimExpr(i, ctx));
    outExprs.append({m, n});
    AffineMap outMap = AffineMap::get(nb + 3, 0, outExprs, ctx);

    // Dynamic result sizes: batch dims from whichever operand has them, m
    // from lhs, n from rhs.
    SmallVector<Value> sizes;
    auto dimOf = [&](Value v, int64_t d) -> Value {
      return tensor::DimOp::create(rewriter, loc, v, d);
    };
    for (int64_t i = 0; i < nb; ++i) {
      if (!resultType.isDynamicDim(i))
        continue;
      Value size;
      for (Value v : {lhs, rhs}) {
        RankedTensorType t = tensorType(v);
        int64_t j = i - (nb - (t.getRank() - 2));
        if (j >= 0 && t.isDynamicDim(j)) {
          size = dimOf(v, j);
          break;
        }
      }
      if (!size)
        return rewriter.notifyMatchFailure(op, "unknown batch size");
      sizes.push_back(size);
    }
    if (resultType.isDynamicDim(nb))
      sizes.push_back(
          dimOf(lhs, lt.getRank() - (op.getTransposeLhs() ? 1 : 2)));
    if (resultType.isDynamicDim(nb + 1))
      sizes.push_back(
          dimOf(rhs, rt.getRank() - (op.getTransposeRhs() ? 2 : 1)));

    auto accType =
        RankedTensorType::get(resultType.getShape(), rewriter.getF32Type());
    Value acc = filledTensor(rewriter, loc, accType, sizes,
                             rewriter.getF32FloatAttr(0));
    SmallVector<utils::IteratorType> iterators = parallelLoops(nb + 3);
    iterators[kInner ? nb + 2 : nb + 1] = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{accType}, ValueRange{lhs, rhs},
        ValueRange{acc}, ArrayRef<AffineMap>{lhsMap, rhsMap, outMap}, iterators,
        [](OpBuilder &b, Location l, ValueRange a) {
          // Reassociation lets LLVM vectorise the dot product; the order of
          // an f32 sum is not part of the op's contract.
          auto fast = arith::FastMathFlagsAttr::get(
              b.getContext(),
              arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
          Value product = arith::MulFOp::create(b, l, toF32(b, l, a[0]),
                                                toF32(b, l, a[1]), fast);
          linalg::YieldOp::create(
              b, l, Value(arith::AddFOp::create(b, l, a[2], product, fast)));
        });
    Value result = generic.getResult(0);
    if (resultType.getElementType() != rewriter.getF32Type()) {
      auto rounded =
          elementwise(rewriter, loc, resultType, result,
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
      if (failed(rounded))
        return failure();
      result = *rounded;
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void populateContractionPatterns(RewritePatternSet &patterns,
                                 const LoweringOptions &) {
  patterns.add<LowerMatmul>(patterns.getContext());
}

} // namespace dgc::lowering
