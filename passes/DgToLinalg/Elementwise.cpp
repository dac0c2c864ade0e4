//===- Elementwise.cpp - dg elementwise ops to linalg.generic -------------===//
//
// Float arithmetic runs in f32 and rounds once to the result type, as the dg
// ops specify; integer arithmetic (positions, lengths) stays integer.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

template <typename OpTy, typename FloatOp, typename IntOp>
struct LowerBinary : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = tensorType(op.getResult());
    ValueRange inputs = op->getOperands();
    if (isa<FloatType>(type.getElementType())) {
      auto result =
          elementwise(rewriter, loc, type, inputs,
                      [](OpBuilder &b, Location l, ValueRange a) -> Value {
                        return FloatOp::create(b, l, a[0], a[1]);
                      });
      if (failed(result))
        return rewriter.notifyMatchFailure(op, "unknown dynamic size");
      rewriter.replaceOp(op, *result);
      return success();
    }
    auto sizes = dynamicSizesFrom(rewriter, loc, type, inputs);
    if (failed(sizes))
      return rewriter.notifyMatchFailure(op, "unknown dynamic size");
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps;
    for (Value input : inputs)
      maps.push_back(
          broadcastMap(ctx, tensorType(input).getShape(), type.getShape()));
    maps.push_back(rewriter.getMultiDimIdentityMap(type.getRank()));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, inputs,
        ValueRange{emptyTensor(rewriter, loc, type, *sizes)}, maps,
        parallelLoops(type.getRank()),
        [](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(b, l, Value(IntOp::create(b, l, a[0], a[1])));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

template <typename OpTy, typename MathOp>
struct LowerUnary : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto result = elementwise(
        rewriter, op.getLoc(), tensorType(op.getResult()), op->getOperands(),
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return MathOp::create(b, l, a[0]);
        });
    if (failed(result))
      return failure();
    rewriter.replaceOp(op, *result);
    return success();
  }
};

struct LowerCast : OpRewritePattern<dg::CastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::CastOp op,
                                PatternRewriter &rewriter) const override {
    // toF32 / fromF32 do the conversion; f32 is exact for every source
    // float type and for the 0/1 of i1.
    auto result = elementwise(
        rewriter, op.getLoc(), tensorType(op.getResult()), op->getOperands(),
        [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    if (failed(result))
      return failure();
    rewriter.replaceOp(op, *result);
    return success();
  }
};

/// gelu_tanh(g) * u = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) u.
struct LowerGatedGelu : OpRewritePattern<dg::GatedGeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::GatedGeluOp op,
                                PatternRewriter &rewriter) const override {
    auto result = elementwise(
        rewriter, op.getLoc(), tensorType(op.getResult()), op->getOperands(),
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return gatedGeluF32(b, l, a[0], a[1]);
        });
    if (failed(result))
      return failure();
    rewriter.replaceOp(op, *result);
    return success();
  }
};

struct LowerIota : OpRewritePattern<dg::IotaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::IotaOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = tensorType(op.getResult());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{},
        ValueRange{emptyTensor(rewriter, loc, type, {})},
        ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(1)},
        parallelLoops(1), [&](OpBuilder &b, Location l, ValueRange) {
          Value i = linalg::IndexOp::create(b, l, 0);
          linalg::YieldOp::create(b, l,
                                  Value(arith::IndexCastOp::create(
                                      b, l, type.getElementType(), i)));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void populateElementwisePatterns(RewritePatternSet &patterns,
                                 const LoweringOptions &) {
  patterns.add<LowerBinary<dg::AddOp, arith::AddFOp, arith::AddIOp>,
               LowerBinary<dg::SubOp, arith::SubFOp, arith::SubIOp>,
               LowerBinary<dg::MulOp, arith::MulFOp, arith::MulIOp>,
               LowerBinary<dg::DivOp, arith::DivFOp, arith::DivSIOp>,
               LowerUnary<dg::ExpOp, math::ExpOp>,
               LowerUnary<dg::LogOp, math::LogOp>,
               LowerUnary<dg::TanhOp, math::TanhOp>, LowerCast, LowerGatedGelu,
               LowerIota>(patterns.getContext());
}

} // namespace dgc::lowering
