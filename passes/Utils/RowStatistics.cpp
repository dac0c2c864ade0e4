//===- RowStatistics.cpp - One-pass softmax statistics of a row -----------===//

#include "passes/Utils/RowStatistics.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;

namespace dgc {

SmallVector<TypedAttr> rowStatisticsIdentity(Builder &b) {
  return {b.getF32FloatAttr(-std::numeric_limits<double>::infinity()),
          b.getF32FloatAttr(0), b.getF32FloatAttr(0),
          b.getI32IntegerAttr(std::numeric_limits<int32_t>::max())};
}

Value isBetterPick(OpBuilder &b, Location loc, Value xValue, Value xIndex,
                   Value yValue, Value yIndex) {
  using arith::CmpFPredicate;
  Value greater =
      arith::CmpFOp::create(b, loc, CmpFPredicate::OGT, yValue, xValue);
  Value equal =
      arith::CmpFOp::create(b, loc, CmpFPredicate::OEQ, yValue, xValue);
  Value lower =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, yIndex, xIndex);
  return arith::OrIOp::create(b, loc, greater,
                              arith::AndIOp::create(b, loc, equal, lower));
}

SmallVector<Value> combineRowStatistics(OpBuilder &b, Location loc,
                                        ValueRange x, ValueRange y) {
  using arith::CmpFPredicate;
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  Value minusInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<double>::infinity()));
  Value m = arith::MaximumFOp::create(b, loc, x[0], y[0]);
  // One side's (s, u) moved to the common max m. An empty side (max -inf)
  // adds nothing; without the selects it would add 0 * inf = NaN.
  auto rescaled = [&](ValueRange side) -> std::pair<Value, Value> {
    Value empty =
        arith::CmpFOp::create(b, loc, CmpFPredicate::OEQ, side[0], minusInf);
    Value shift = arith::SubFOp::create(b, loc, side[0], m);
    Value scale = arith::SelectOp::create(b, loc, empty, zero,
                                          math::ExpOp::create(b, loc, shift));
    Value s = arith::MulFOp::create(b, loc, side[1], scale);
    // sum e^(x-m)(x-m) = scale * (u + shift * s) over this side's elements.
    Value u = arith::MulFOp::create(
        b, loc, scale,
        arith::AddFOp::create(b, loc, side[2],
                              arith::MulFOp::create(b, loc, shift, side[1])));
    return {s, arith::SelectOp::create(b, loc, empty, zero, u)};
  };
  auto [sx, ux] = rescaled(x);
  auto [sy, uy] = rescaled(y);
  Value better = isBetterPick(b, loc, x[0], x[3], y[0], y[3]);
  return {m, arith::AddFOp::create(b, loc, sx, sy),
          arith::AddFOp::create(b, loc, ux, uy),
          arith::SelectOp::create(b, loc, better, y[3], x[3])};
}

SmallVector<Value> addToRowStatistics(OpBuilder &b, Location loc,
                                      ValueRange state, Value value,
                                      Value index) {
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  return combineRowStatistics(b, loc, state, {value, one, zero, index});
}

bool isRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() < 2 ||
      linalg::isaContractionOpInterface(op))
    return false;
  auto iterators = op.getIteratorTypesArray();
  for (size_t i = 0; i + 1 < iterators.size(); ++i)
    if (iterators[i] != utils::IteratorType::parallel)
      return false;
  if (iterators.back() != utils::IteratorType::reduction)
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  return true;
}

namespace {

/// A row reduction whose `outputs` outputs are all f32 but a last i32.
bool isPickStateReduction(linalg::GenericOp op, unsigned outputs) {
  if (op.getNumDpsInits() != outputs || !isRowReduction(op))
    return false;
  for (auto [i, out] : llvm::enumerate(op.getDpsInits())) {
    Type element = cast<MemRefType>(out.getType()).getElementType();
    if (i + 1 < outputs ? !element.isF32() : !element.isInteger(32))
      return false;
  }
  return true;
}

} // namespace

bool isRowStatisticsReduction(linalg::GenericOp op) {
  return dg::RowStatisticsAttr::of(op) && isPickStateReduction(op, 4);
}

bool isBestOfRowsReduction(linalg::GenericOp op) {
  return dg::BestOfRowsAttr::of(op) && isPickStateReduction(op, 2);
}

} // namespace dgc
