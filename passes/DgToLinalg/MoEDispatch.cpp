//===- MoEDispatch.cpp - Grouping a MoE layer's slots by expert -----------===//
//
// With S = T * k slots and E experts, every step is a linalg.generic:
//   count[e]       = #{s : expert[s] = e}                       O(E S)
//   firstTile[e]   = sum over e' < e of ceil(count[e'] / G)     O(E^2)
//   rank[s]        = #{s' < s : expert[s'] = expert[s]}         O(S^2)
//   rowOfSlot[s]   = firstTile[expert[s]] * G + rank[s]
//   tokenOfRow[r]  = s / k for the slot s with rowOfSlot[s] = r, else -1
//   tileExpert[m]  = the e with firstTile[e] <= m < firstTile[e] + tiles(e)
// The quadratic terms are small next to the expert GEMMs (S is far below
// their K * N), and unlike a scan they parallelise on any target.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/MoEDispatch.h"

#include "passes/DgToLinalg/LoweringUtils.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// A generic over `loops` loops whose first `parallel` are parallel, reading
/// `inputs` through `maps` (the last map is the result's) into a tensor of
/// `type` filled with `init`; `body` returns the new accumulator.
Value generic(OpBuilder &b, Location loc, RankedTensorType type,
              ValueRange dynamicSizes, TypedAttr init, ValueRange inputs,
              ArrayRef<AffineMap> maps, int64_t parallel, int64_t loops,
              BodyFn body) {
  SmallVector<utils::IteratorType> iterators = parallelLoops(parallel);
  iterators.append(loops - parallel, utils::IteratorType::reduction);
  Value out = init ? filledTensor(b, loc, type, dynamicSizes, init)
                   : emptyTensor(b, loc, type, dynamicSizes);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, inputs, ValueRange{out}, maps, iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, body(nb, l, args));
             })
      .getResult(0);
}

AffineMap dimsMap(MLIRContext *ctx, int64_t loops, ArrayRef<int64_t> dims) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(loops, 0, exprs, ctx);
}

Value i32Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}
Value loopIndexI32(OpBuilder &b, Location loc, int64_t dim) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                    linalg::IndexOp::create(b, loc, dim));
}
Value ceilDivI32(OpBuilder &b, Location loc, Value x, int64_t d) {
  return arith::CeilDivSIOp::create(b, loc, x, i32Const(b, loc, d));
}
Value toIndex(OpBuilder &b, Location loc, Value i32) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), i32);
}

} // namespace

ExpertGroups groupSlotsByExpert(OpBuilder &b, Location loc, Value experts,
                                int64_t numExperts, int64_t groupRows) {
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  int64_t k = tensorType(experts).getDimSize(1);
  int64_t g = groupRows;
  SmallVector<Value> tokenSizes;
  if (tensorType(experts).isDynamicDim(0))
    tokenSizes.push_back(tensor::DimOp::create(b, loc, experts, 0));
  auto zero = b.getI32IntegerAttr(0), none = b.getI32IntegerAttr(-1);
  auto add = [](OpBuilder &nb, Location l, Value x, Value y) -> Value {
    return arith::AddIOp::create(nb, l, x, y);
  };
  auto eq = [](OpBuilder &nb, Location l, Value x, Value y) -> Value {
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, x, y);
  };
  auto lt = [](OpBuilder &nb, Location l, Value x, Value y) -> Value {
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, x, y);
  };
  auto asI32 = [&](OpBuilder &nb, Location l, Value flag) -> Value {
    return arith::ExtUIOp::create(nb, l, i32, flag);
  };

  // count[e]: loops (e, t, j).
  auto perExpert = RankedTensorType::get({numExperts}, i32);
  Value count = generic(
      b, loc, perExpert, {}, zero, experts,
      {dimsMap(ctx, 3, {1, 2}), dimsMap(ctx, 3, {0})}, 1, 3,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        return add(nb, l, a[1],
                   asI32(nb, l, eq(nb, l, a[0], loopIndexI32(nb, l, 0))));
      });

  // firstTile[e]: loops (e, e').
  Value firstTile =
      generic(b, loc, perExpert, {}, zero, count,
              {dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {0})}, 1, 2,
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value before =
                    lt(nb, l, loopIndexI32(nb, l, 1), loopIndexI32(nb, l, 0));
                Value tiles = ceilDivI32(nb, l, a[0], g);
                return add(nb, l, a[1],
                           arith::SelectOp::create(nb, l, before, tiles,
                                                   i32Const(nb, l, 0)));
              });

  // rank[t, j]: loops (t, j, t', j'), slot order t * k + j.
  auto perSlot =
      RankedTensorType::get({tensorType(experts).getDimSize(0), k}, i32);
  Value rank = generic(
      b, loc, perSlot, tokenSizes, zero, ValueRange{experts, experts},
      {dimsMap(ctx, 4, {0, 1}), dimsMap(ctx, 4, {2, 3}),
       dimsMap(ctx, 4, {0, 1})},
      2, 4, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value kk = i32Const(nb, l, k);
        auto slot = [&](int64_t t, int64_t j) -> Value {
          return add(nb, l,
                     arith::MulIOp::create(nb, l, loopIndexI32(nb, l, t), kk),
                     loopIndexI32(nb, l, j));
        };
        Value earlier = lt(nb, l, slot(2, 3), slot(0, 1));
        Value same = eq(nb, l, a[0], a[1]);
        return add(nb, l, a[2],
                   asI32(nb, l, arith::AndIOp::create(nb, l, earlier, same)));
      });

  // rowOfSlot[t, j]: loops (t, j).
  Value rowOfSlot = generic(
      b, loc, perSlot, tokenSizes, {}, ValueRange{experts, rank},
      {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0, 1}),
       dimsMap(ctx, 2, {0, 1})},
      2, 2, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value first = tensor::ExtractOp::create(
            nb, l, firstTile, ValueRange{toIndex(nb, l, a[0])});
        return add(nb, l,
                   arith::MulIOp::create(nb, l, first, i32Const(nb, l, g)),
                   a[1]);
      });

  // M = ceil(T * k / G) + E tiles hold any routing: expert e needs
  // ceil(count[e] / G) <= count[e] / G + 1 of them.
  Value tokens = tokenSizes.empty()
                     ? Value(arith::ConstantIndexOp::create(
                           b, loc, tensorType(experts).getDimSize(0)))
                     : tokenSizes[0];
  Value slots = arith::MulIOp::create(
      b, loc, tokens, arith::ConstantIndexOp::create(b, loc, k));
  Value numTiles = arith::AddIOp::create(
      b, loc,
      arith::CeilDivUIOp::create(b, loc, slots,
                                 arith::ConstantIndexOp::create(b, loc, g)),
      arith::ConstantIndexOp::create(b, loc, numExperts));

  // tokenOfRow[m, i]: loops (m, i, t, j).
  auto perRow = RankedTensorType::get({ShapedType::kDynamic, g}, i32);
  Value tokenOfRow =
      generic(b, loc, perRow, numTiles, none, rowOfSlot,
              {dimsMap(ctx, 4, {2, 3}), dimsMap(ctx, 4, {0, 1})}, 2, 4,
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value row =
                    add(nb, l,
                        arith::MulIOp::create(nb, l, loopIndexI32(nb, l, 0),
                                              i32Const(nb, l, g)),
                        loopIndexI32(nb, l, 1));
                return arith::SelectOp::create(nb, l, eq(nb, l, a[0], row),
                                               loopIndexI32(nb, l, 2), a[1])
                    .getResult();
              });

  // tileExpert[m]: loops (m, e).
  auto perTile = RankedTensorType::get({ShapedType::kDynamic}, i32);
  Value tileExpert = generic(
      b, loc, perTile, numTiles, none, ValueRange{count, firstTile},
      {dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {0})}, 1, 2,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value m = loopIndexI32(nb, l, 0);
        Value end = add(nb, l, a[1], ceilDivI32(nb, l, a[0], g));
        Value inside = arith::AndIOp::create(
            nb, l,
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sle, a[1], m),
            lt(nb, l, m, end));
        return arith::SelectOp::create(nb, l, inside, loopIndexI32(nb, l, 1),
                                       a[2])
            .getResult();
      });
  return {rowOfSlot, tokenOfRow, tileExpert, numTiles};
}

Value gatherRows(OpBuilder &b, Location loc, Value input,
                 const ExpertGroups &groups, int64_t groupRows) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType it = tensorType(input);
  int64_t width = it.getDimSize(1);
  auto type = RankedTensorType::get({ShapedType::kDynamic, groupRows, width},
                                    it.getElementType());
  return generic(
      b, loc, type, groups.numTiles, {}, groups.tokenOfRow,
      {dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {0, 1, 2})}, 3, 3,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value zero = arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(0));
        Value token = arith::MaxSIOp::create(nb, l, a[0], zero);
        Value v = tensor::ExtractOp::create(
            nb, l, input,
            ValueRange{toIndex(nb, l, token),
                       linalg::IndexOp::create(nb, l, 2)});
        Value used =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, a[0], zero);
        return arith::SelectOp::create(
                   nb, l, used, v,
                   arith::ConstantOp::create(
                       nb, l, nb.getZeroAttr(it.getElementType())))
            .getResult();
      });
}

Value groupedProjection(OpBuilder &b, Location loc, Value rows,
                        Value tileExpert, Value weight) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType rt = tensorType(rows);
  int64_t g = rt.getDimSize(1), n = tensorType(weight).getDimSize(1);
  auto type =
      RankedTensorType::get({ShapedType::kDynamic, g, n}, b.getF32Type());
  Value tiles = tensor::DimOp::create(b, loc, rows, 0);
  auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  Value out = generic(
      b, loc, type, tiles, b.getF32FloatAttr(0), ValueRange{rows, tileExpert},
      {dimsMap(ctx, 4, {0, 1, 3}), dimsMap(ctx, 4, {0}),
       dimsMap(ctx, 4, {0, 1, 2})},
      3, 4, [&](OpBuilder &nb, Location l, ValueRange a) {
        // Unused tiles (-1) have zero rows; they read expert 0 on the host
        // and are skipped by the GPU kernel.
        Value expert = arith::MaxSIOp::create(
            nb, l, a[1],
            arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(0)));
        Value w = tensor::ExtractOp::create(
            nb, l, weight,
            ValueRange{toIndex(nb, l, expert),
                       linalg::IndexOp::create(nb, l, 2),
                       linalg::IndexOp::create(nb, l, 3)});
        Value p = arith::MulFOp::create(nb, l, toF32(nb, l, a[0]),
                                        toF32(nb, l, w), fast);
        return arith::AddFOp::create(nb, l, a[2], p, fast).getResult();
      });
  dg::setContract(out.getDefiningOp(), dg::GroupedByExpertAttr::get(ctx, g));
  return out;
}

} // namespace dgc::lowering
