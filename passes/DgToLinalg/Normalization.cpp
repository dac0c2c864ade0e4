//===- Normalization.cpp - dg.rms_norm, dg.softmax, dg.reduce to linalg ---===//
//
// Each is a short chain of generics over the input's own loop order: the
// reduced axis is a reduction loop, and per-row statistics (f32) are read
// back with a map that drops that axis.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace dgc::lowering {
namespace {

/// sum over `axis` of f(x, stats...) in f32, stats read per row.
Value rowSum(OpBuilder &b, Location loc, Value x, ValueRange stats,
             int64_t axis,
             function_ref<Value(OpBuilder &, Location, Value, ValueRange)> f) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType t = tensorType(x);
  int64_t rank = t.getRank();
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis)
      shape.push_back(t.getDimSize(i));
  auto outType = RankedTensorType::get(shape, b.getF32Type());
  Value acc =
      filledTensor(b, loc, outType, dynamicSizesWithout(b, loc, x, axis),
                   b.getF32FloatAttr(0));
  AffineMap rowMap = droppedAxisMap(ctx, rank, axis);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<Value> inputs = {x};
  for (Value s : stats) {
    maps.push_back(rowMap);
    inputs.push_back(s);
  }
  maps.push_back(rowMap);
  SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
  iterators[axis] = utils::IteratorType::reduction;
  return linalg::GenericOp::create(
             b, loc, TypeRange{outType}, inputs, ValueRange{acc}, maps,
             iterators,
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               Value term =
                   f(nb, nl, toF32(nb, nl, a[0]), a.drop_front().drop_back());
               linalg::YieldOp::create(
                   nb, nl,
                   Value(arith::AddFOp::create(nb, nl, a.back(), term)));
             })
      .getResult(0);
}

Value rowMax(OpBuilder &b, Location loc, Value x, int64_t axis) {
  return *reduceAxis(b, loc, x, axis, -std::numeric_limits<double>::infinity(),
                     [](OpBuilder &nb, Location nl, Value acc, Value v) {
                       return Value(arith::MaximumFOp::create(nb, nl, acc, v));
                     });
}

struct LowerRMSNorm : OpRewritePattern<dg::RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    RankedTensorType type = tensorType(x);
    int64_t axis = type.getRank() - 1;
    Value sumSq = rowSum(rewriter, loc, x, {}, axis,
                         [](OpBuilder &b, Location l, Value v, ValueRange) {
                           return Value(arith::MulFOp::create(b, l, v, v));
                         });
    Type f32 = rewriter.getF32Type();
    double width = static_cast<double>(type.getShape().back());
    double eps = op.getEpsilon().convertToDouble();
    SmallVector<Value> columns;
    if (Value w = op.getWeight())
      columns.push_back(w);
    Value result = mapRows(
        rewriter, loc, x, sumSq, columns, axis, type,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value mean = arith::DivFOp::create(b, l, a[1],
                                             scalarConstant(b, l, f32, width));
          Value inv = math::RsqrtOp::create(
              b, l,
              arith::AddFOp::create(b, l, mean,
                                    scalarConstant(b, l, f32, eps)));
          Value y = arith::MulFOp::create(b, l, a[0], inv);
          return a.size() > 2 ? Value(arith::MulFOp::create(b, l, y, a[2])) : y;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerSoftmax : OpRewritePattern<dg::SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    int64_t axis = op.getAxis();
    Value max = rowMax(rewriter, loc, x, axis);
    Value sum = rowSum(rewriter, loc, x, max, axis,
                       [](OpBuilder &b, Location l, Value v, ValueRange s) {
                         return Value(math::ExpOp::create(
                             b, l, arith::SubFOp::create(b, l, v, s[0])));
                       });
    Value result =
        mapRows(rewriter, loc, x, ValueRange{max, sum}, {}, axis, tensorType(x),
                [](OpBuilder &b, Location l, ValueRange a) {
                  Value e = math::ExpOp::create(
                      b, l, arith::SubFOp::create(b, l, a[0], a[1]));
                  return Value(arith::DivFOp::create(b, l, e, a[2]));
                });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerReduce : OpRewritePattern<dg::ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::ReduceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    int64_t axis = op.getAxis();
    RankedTensorType resultType = tensorType(op.getResult());
    Type elementType = resultType.getElementType();
    if (isa<IntegerType>(elementType))
      return lowerIntegerMax(op, rewriter);

    Value f32Result;
    switch (op.getKind()) {
    case dg::ReduceKind::sum:
    case dg::ReduceKind::mean:
      f32Result =
          rowSum(rewriter, loc, x, {}, axis,
                 [](OpBuilder &, Location, Value v, ValueRange) { return v; });
      break;
    case dg::ReduceKind::max:
      f32Result = rowMax(rewriter, loc, x, axis);
      break;
    case dg::ReduceKind::logsumexp: {
      Value max = rowMax(rewriter, loc, x, axis);
      f32Result = rowSum(rewriter, loc, x, max, axis,
                         [](OpBuilder &b, Location l, Value v, ValueRange s) {
                           return Value(math::ExpOp::create(
                               b, l, arith::SubFOp::create(b, l, v, s[0])));
                         });
      Value lse = *elementwise(
          rewriter, loc, tensorType(f32Result), ValueRange{f32Result, max},
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::AddFOp::create(b, l, math::LogOp::create(b, l, a[0]),
                                         a[1]);
          });
      f32Result = lse;
      break;
    }
    }
    int64_t count = tensorType(x).getDimSize(axis);
    bool mean = op.getKind() == dg::ReduceKind::mean;
    if (mean && ShapedType::isDynamic(count))
      return rewriter.notifyMatchFailure(op, "mean over a dynamic axis");
    auto result = elementwise(
        rewriter, loc, resultType, f32Result,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if (!mean)
            return a[0];
          return arith::DivFOp::create(
              b, l, a[0],
              scalarConstant(b, l, b.getF32Type(), static_cast<double>(count)));
        });
    if (failed(result))
      return failure();
    rewriter.replaceOp(op, *result);
    return success();
  }

  LogicalResult lowerIntegerMax(dg::ReduceOp op,
                                PatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    Value x = op.getInput();
    int64_t axis = op.getAxis(), rank = tensorType(x).getRank();
    RankedTensorType resultType = tensorType(op.getResult());
    auto intType = cast<IntegerType>(resultType.getElementType());
    Value acc = filledTensor(
        rewriter, loc, resultType, dynamicSizesWithout(rewriter, loc, x, axis),
        rewriter.getIntegerAttr(intType,
                                APInt::getSignedMinValue(intType.getWidth())));
    SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
    iterators[axis] = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, ValueRange{x}, ValueRange{acc},
        ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(rank),
                            droppedAxisMap(rewriter.getContext(), rank, axis)},
        iterators, [](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::MaxSIOp::create(b, l, a[0], a[1])));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void populateNormalizationPatterns(RewritePatternSet &patterns,
                                   const LoweringOptions &) {
  patterns.add<LowerRMSNorm, LowerSoftmax, LowerReduce>(patterns.getContext());
}

} // namespace dgc::lowering
