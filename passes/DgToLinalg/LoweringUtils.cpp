//===- LoweringUtils.cpp - Shared helpers of the dg-to-linalg patterns ----===//

#include "passes/DgToLinalg/LoweringUtils.h"

#include "dg/DgDialect.h"
#include "passes/Passes.h"
#include "passes/Utils/RowStatistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc::lowering {

FailureOr<SmallVector<Value>> dynamicSizesFrom(OpBuilder &b, Location loc,
                                               RankedTensorType type,
                                               ValueRange sources) {
  SmallVector<Value> sizes;
  int64_t rank = type.getRank();
  for (int64_t i = 0; i < rank; ++i) {
    if (!type.isDynamicDim(i))
      continue;
    Value size;
    for (Value source : sources) {
      RankedTensorType st = tensorType(source);
      int64_t j = i - (rank - st.getRank());
      if (j >= 0 && st.isDynamicDim(j)) {
        size = tensor::DimOp::create(b, loc, source, j);
        break;
      }
    }
    if (!size)
      return failure();
    sizes.push_back(size);
  }
  return sizes;
}

SmallVector<Value> dynamicSizesWithout(OpBuilder &b, Location loc, Value v,
                                       int64_t axis) {
  SmallVector<Value> sizes;
  RankedTensorType t = tensorType(v);
  for (int64_t i = 0; i < t.getRank(); ++i)
    if (i != axis && t.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(b, loc, v, i));
  return sizes;
}

Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                  ValueRange dynamicSizes) {
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamicSizes);
}

Value filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                   ValueRange dynamicSizes, TypedAttr fill) {
  Value empty = emptyTensor(b, loc, type, dynamicSizes);
  Value value = arith::ConstantOp::create(b, loc, fill);
  return linalg::FillOp::create(b, loc, value, empty).getResult(0);
}

AffineMap broadcastMap(MLIRContext *ctx, ArrayRef<int64_t> operandShape,
                       ArrayRef<int64_t> resultShape) {
  SmallVector<AffineExpr> exprs;
  size_t offset = resultShape.size() - operandShape.size();
  for (auto [j, dim] : llvm::enumerate(operandShape)) {
    int64_t resultDim = resultShape[j + offset];
    if (dim == 1 && resultDim != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(j + offset, ctx));
  }
  return AffineMap::get(resultShape.size(), 0, exprs, ctx);
}

Value toF32(OpBuilder &b, Location loc, Value scalar) {
  Type type = scalar.getType();
  Type f32 = b.getF32Type();
  if (type == f32)
    return scalar;
  if (auto ft = dyn_cast<FloatType>(type)) {
    if (ft.getWidth() < 32)
      return arith::ExtFOp::create(b, loc, f32, scalar);
    return arith::TruncFOp::create(b, loc, f32, scalar);
  }
  // A select rather than uitofp: folded into a later truncf, uitofp to bf16
  // would need a runtime library call on the host.
  if (type.isInteger(1))
    return arith::SelectOp::create(b, loc, scalar,
                                   scalarConstant(b, loc, f32, 1.0),
                                   scalarConstant(b, loc, f32, 0.0));
  return arith::SIToFPOp::create(b, loc, f32, scalar);
}

Value fromF32(OpBuilder &b, Location loc, Value scalar, Type target) {
  if (scalar.getType() == target)
    return scalar;
  auto ft = cast<FloatType>(target);
  if (ft.getWidth() < 32)
    return arith::TruncFOp::create(b, loc, target, scalar);
  return arith::ExtFOp::create(b, loc, target, scalar);
}

SmallVector<utils::IteratorType> parallelLoops(int64_t count) {
  return SmallVector<utils::IteratorType>(count, utils::IteratorType::parallel);
}

FailureOr<Value>
elementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
            ValueRange inputs,
            function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto sizes = dynamicSizesFrom(b, loc, resultType, inputs);
  if (failed(sizes))
    return failure();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value input : inputs)
    maps.push_back(
        broadcastMap(ctx, tensorType(input).getShape(), resultType.getShape()));
  maps.push_back(b.getMultiDimIdentityMap(resultType.getRank()));
  Value init = emptyTensor(b, loc, resultType, *sizes);
  Type elementType = resultType.getElementType();
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, inputs, ValueRange{init}, maps,
      parallelLoops(resultType.getRank()),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> f32Args;
        for (Value arg : args.drop_back())
          f32Args.push_back(toF32(nb, nl, arg));
        Value result = body(nb, nl, f32Args);
        linalg::YieldOp::create(nb, nl, fromF32(nb, nl, result, elementType));
      });
  return generic.getResult(0);
}

Value gatedGeluF32(OpBuilder &b, Location l, Value g, Value u) {
  Type f32 = b.getF32Type();
  auto c = [&](double v) { return scalarConstant(b, l, f32, v); };
  Value cube =
      arith::MulFOp::create(b, l, g, arith::MulFOp::create(b, l, g, g));
  Value inner = arith::AddFOp::create(
      b, l, g, arith::MulFOp::create(b, l, c(0.044715), cube));
  Value t = math::TanhOp::create(
      b, l, arith::MulFOp::create(b, l, c(0.7978845608028654), inner));
  Value gelu =
      arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, c(0.5), g),
                            arith::AddFOp::create(b, l, c(1.0), t));
  return arith::MulFOp::create(b, l, gelu, u);
}

Value scalarConstant(OpBuilder &b, Location loc, Type type, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
}

FailureOr<Value>
reduceAxis(OpBuilder &b, Location loc, Value input, int64_t axis, double init,
           function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  RankedTensorType type = tensorType(input);
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  // Loops: the kept dimensions in order, then the reduced one.
  SmallVector<AffineExpr> inExprs(rank), outExprs;
  SmallVector<int64_t> outShape;
  for (int64_t i = 0, loop = 0; i < rank; ++i) {
    if (i == axis)
      continue;
    inExprs[i] = getAffineDimExpr(loop, ctx);
    outExprs.push_back(getAffineDimExpr(loop++, ctx));
    outShape.push_back(type.getDimSize(i));
  }
  inExprs[axis] = getAffineDimExpr(rank - 1, ctx);
  auto outType = RankedTensorType::get(outShape, b.getF32Type());
  Value acc =
      filledTensor(b, loc, outType, dynamicSizesWithout(b, loc, input, axis),
                   b.getF32FloatAttr(init));
  SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{outType}, ValueRange{input}, ValueRange{acc},
      ArrayRef<AffineMap>{AffineMap::get(rank, 0, inExprs, ctx),
                          AffineMap::get(rank, 0, outExprs, ctx)},
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(
            nb, nl, combine(nb, nl, args[1], toF32(nb, nl, args[0])));
      });
  return generic.getResult(0);
}

SmallVector<Value> rowStatistics(
    OpBuilder &b, Location loc, Value x, ValueRange perRow,
    function_ref<Value(OpBuilder &, Location, Value, ValueRange)> value) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType t = tensorType(x);
  int64_t rank = t.getRank();
  SmallVector<int64_t> rowShape(t.getShape().drop_back());
  SmallVector<Value> sizes = dynamicSizesWithout(b, loc, x, rank - 1);
  auto f32Row = RankedTensorType::get(rowShape, b.getF32Type());
  auto i32Row = RankedTensorType::get(rowShape, b.getI32Type());
  SmallVector<Type> types = {f32Row, f32Row, f32Row, i32Row};
  SmallVector<Value> inits;
  for (auto [attr, type] : llvm::zip(rowStatisticsIdentity(b), types))
    inits.push_back(
        filledTensor(b, loc, cast<RankedTensorType>(type), sizes, attr));
  AffineMap rowMap = droppedAxisMap(ctx, rank, rank - 1);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<Value> inputs = {x};
  for (Value row : perRow) {
    inputs.push_back(row);
    maps.push_back(rowMap);
  }
  maps.append(4, rowMap);
  SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
  iterators.back() = utils::IteratorType::reduction;
  size_t numInputs = inputs.size();
  auto generic = linalg::GenericOp::create(
      b, loc, types, inputs, inits, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value index = arith::IndexCastOp::create(
            nb, nl, nb.getI32Type(), linalg::IndexOp::create(nb, nl, rank - 1));
        Value element = toF32(nb, nl, args[0]);
        if (value)
          element = value(nb, nl, element, args.slice(1, numInputs - 1));
        linalg::YieldOp::create(
            nb, nl,
            addToRowStatistics(nb, nl, args.drop_front(numInputs).take_front(4),
                               element, index));
      });
  dg::setContract(generic, dg::RowStatisticsAttr::get(b.getContext()));
  return generic.getResults();
}

AffineMap droppedAxisMap(MLIRContext *ctx, int64_t rank, int64_t axis) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis)
      exprs.push_back(getAffineDimExpr(i, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value mapRows(OpBuilder &b, Location loc, Value x, ValueRange perRow,
              ValueRange perColumn, int64_t axis, RankedTensorType resultType,
              function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = resultType.getRank();
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<Value> inputs = {x};
  for (Value s : perRow) {
    maps.push_back(droppedAxisMap(ctx, rank, axis));
    inputs.push_back(s);
  }
  for (Value c : perColumn) {
    maps.push_back(AffineMap::get(rank, 0, getAffineDimExpr(axis, ctx)));
    inputs.push_back(c);
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < rank; ++i)
    if (resultType.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(b, loc, x, i));
  Type elementType = resultType.getElementType();
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, inputs,
             ValueRange{emptyTensor(b, loc, resultType, sizes)}, maps,
             parallelLoops(rank),
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               SmallVector<Value> f32Args;
               for (Value arg : a.drop_back())
                 f32Args.push_back(toF32(nb, nl, arg));
               linalg::YieldOp::create(
                   nb, nl, fromF32(nb, nl, f(nb, nl, f32Args), elementType));
             })
      .getResult(0);
}

} // namespace dgc::lowering
