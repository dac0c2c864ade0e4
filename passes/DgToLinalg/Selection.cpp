//===- Selection.cpp - top_k, argmax, categorical_sample, gather, scatter -===//
//
// Top-k is k passes of an argmax over the last axis, each restricted to the
// elements after the previous pick in (value descending, index ascending)
// order: no scratch copy of the row and no sort, and ties resolve to the
// lower index as the op specifies. The loop carries the contract
// #dg.top_k_loop so that each target can replace it by one selection
// (dg-host-top-k, dg-gpu-top-k).
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "dg/DgDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace dgc::lowering {
namespace {

/// The dynamic sizes of every dimension of `v` but the last.
SmallVector<Value> leadingSizes(OpBuilder &b, Location loc, Value v) {
  return dynamicSizesWithout(b, loc, v, tensorType(v).getRank() - 1);
}

/// dg.categorical_sample's Gumbel noise of element `index` (i32) of a row
/// with `seed` (i32): -log(-log(u)), u = ((h >> 9) + 0.5) / 2^23,
/// h = fmix32(seed ^ fmix32(index)) in u32 arithmetic.
Value gumbelNoise(OpBuilder &b, Location l, Value seed, Value index) {
  Type f32 = b.getF32Type();
  auto u32 = [&](uint32_t v) -> Value {
    return arith::ConstantOp::create(
        b, l, b.getI32IntegerAttr(static_cast<int32_t>(v)));
  };
  auto xorShift = [&](Value h, uint32_t s) -> Value {
    return arith::XOrIOp::create(b, l, h,
                                 arith::ShRUIOp::create(b, l, h, u32(s)));
  };
  auto fmix32 = [&](Value h) {
    h = arith::MulIOp::create(b, l, xorShift(h, 16), u32(0x85ebca6bu));
    h = arith::MulIOp::create(b, l, xorShift(h, 13), u32(0xc2b2ae35u));
    return xorShift(h, 16);
  };
  Value h = fmix32(arith::XOrIOp::create(b, l, seed, fmix32(index)));
  // u in (0, 1): the top 23 bits, centred. Every (k + 0.5) / 2^23 is an
  // f32 (24 significant bits); with 24 bits (2^24 - 0.5) rounded up to
  // 2^24, making u 1 and the noise infinite.
  Value u = arith::UIToFPOp::create(b, l, f32,
                                    arith::ShRUIOp::create(b, l, h, u32(9)));
  u = arith::MulFOp::create(
      b, l, arith::AddFOp::create(b, l, u, scalarConstant(b, l, f32, 0.5)),
      scalarConstant(b, l, f32, 0x1.0p-23));
  return arith::NegFOp::create(
      b, l,
      math::LogOp::create(
          b, l, arith::NegFOp::create(b, l, math::LogOp::create(b, l, u))));
}

/// The (value, index) of the best element of each row of `x` (last axis).
/// With `after` = (prevValue, prevIndex) rows, only elements that come after
/// that pick in (value desc, index asc) order compete, unless the i1
/// `everything` is set. With `noiseSeeds` (one i32 per row), the elements
/// compete as f32(x) plus their Gumbel noise (a categorical draw).
struct Restriction {
  Value prevValues, prevIndices, everything;
};
std::pair<Value, Value> bestOfRows(OpBuilder &b, Location loc, Value x,
                                   std::optional<Restriction> after,
                                   Value noiseSeeds = {}) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType t = tensorType(x);
  int64_t rank = t.getRank();
  Type elementType = noiseSeeds ? b.getF32Type() : t.getElementType();
  Type i32 = b.getI32Type();
  SmallVector<int64_t> rowShape(t.getShape().drop_back());
  auto valueType = RankedTensorType::get(rowShape, elementType);
  auto indexType = RankedTensorType::get(rowShape, i32);
  SmallVector<Value> sizes = leadingSizes(b, loc, x);
  Value bestV = filledTensor(
      b, loc, valueType, sizes,
      b.getFloatAttr(elementType, -std::numeric_limits<double>::infinity()));
  Value bestI =
      filledTensor(b, loc, indexType, sizes,
                   b.getI32IntegerAttr(std::numeric_limits<int32_t>::max()));

  AffineMap rowMap =
      AffineMap::getMultiDimIdentityMap(rank, ctx).dropResult(rank - 1);
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  if (after) {
    inputs.append({after->prevValues, after->prevIndices});
    maps.append({rowMap, rowMap});
  }
  if (noiseSeeds) {
    inputs.push_back(noiseSeeds);
    maps.push_back(rowMap);
  }
  maps.append({rowMap, rowMap});
  SmallVector<utils::IteratorType> iterators = parallelLoops(rank);
  iterators.back() = utils::IteratorType::reduction;
  bool restricted = after.has_value();
  assert(!(restricted && noiseSeeds) && "a draw is never restricted");
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{valueType, indexType}, inputs, ValueRange{bestV, bestI},
      maps, iterators, [&](OpBuilder &nb, Location nl, ValueRange a) {
        using arith::CmpFPredicate;
        using arith::CmpIPredicate;
        Value v = a[0];
        Value i = arith::IndexCastOp::create(
            nb, nl, i32, linalg::IndexOp::create(nb, nl, rank - 1));
        if (noiseSeeds)
          v = arith::AddFOp::create(nb, nl, toF32(nb, nl, v),
                                    gumbelNoise(nb, nl, a[1], i));
        Value bv = a[a.size() - 2], bi = a[a.size() - 1];
        auto orAnd = [&](Value gt, Value eq, Value idxCmp) {
          return arith::OrIOp::create(
              nb, nl, gt, arith::AndIOp::create(nb, nl, eq, idxCmp));
        };
        Value better =
            orAnd(arith::CmpFOp::create(nb, nl, CmpFPredicate::OGT, v, bv),
                  arith::CmpFOp::create(nb, nl, CmpFPredicate::OEQ, v, bv),
                  arith::CmpIOp::create(nb, nl, CmpIPredicate::slt, i, bi));
        if (restricted) {
          Value pv = a[1], pi = a[2];
          Value afterPrev = arith::OrIOp::create(
              nb, nl, after->everything,
              orAnd(arith::CmpFOp::create(nb, nl, CmpFPredicate::OLT, v, pv),
                    arith::CmpFOp::create(nb, nl, CmpFPredicate::OEQ, v, pv),
                    arith::CmpIOp::create(nb, nl, CmpIPredicate::sgt, i, pi)));
          better = arith::AndIOp::create(nb, nl, better, afterPrev);
        }
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::SelectOp::create(nb, nl, better, v, bv),
                       arith::SelectOp::create(nb, nl, better, i, bi)});
      });
  // Names the pair order (value descending, index ascending), which lets a
  // GPU lowering combine partial results (dg-gpu-block-reductions).
  dg::setContract(generic, dg::BestOfRowsAttr::get(ctx));
  return {generic.getResult(0), generic.getResult(1)};
}

struct LowerArgmax : OpRewritePattern<dg::ArgmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::ArgmaxOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op,
        bestOfRows(rewriter, op.getLoc(), op.getInput(), std::nullopt).second);
    return success();
  }
};

/// The best of each row of the logits plus their Gumbel noise, in one pass
/// (no noisy copy of the logits).
struct LowerCategoricalSample : OpRewritePattern<dg::CategoricalSampleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::CategoricalSampleOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, bestOfRows(rewriter, op.getLoc(), op.getLogits(),
                                      std::nullopt, op.getSeeds())
                               .second);
    return success();
  }
};

struct LowerTopK : OpRewritePattern<dg::TopKOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::TopKOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    RankedTensorType t = tensorType(x);
    int64_t rank = t.getRank();
    SmallVector<Value> sizes = leadingSizes(rewriter, loc, x);
    Value values =
        emptyTensor(rewriter, loc, tensorType(op.getValues()), sizes);
    Value indices =
        emptyTensor(rewriter, loc, tensorType(op.getIndices()), sizes);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value k = arith::ConstantIndexOp::create(rewriter, loc, op.getK());
    // Pick j competes among the elements after pick j-1, read back from
    // the outputs; pick 0 among all. Only the outputs are loop-carried, so
    // they bufferize in place.
    auto loop = scf::ForOp::create(
        rewriter, loc, zero, k, one, ValueRange{values, indices},
        [&](OpBuilder &b, Location l, Value j, ValueRange iter) {
          SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
          SmallVector<OpFoldResult> extents;
          for (int64_t d = 0; d + 1 < rank; ++d)
            extents.push_back(
                t.isDynamicDim(d)
                    ? OpFoldResult(
                          tensor::DimOp::create(b, l, x, d).getResult())
                    : b.getIndexAttr(t.getDimSize(d)));
          extents.push_back(b.getIndexAttr(1));
          auto column = [&](Value c) {
            SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
            offsets.back() = c;
            return offsets;
          };
          Value first =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, j, zero);
          Value prevColumn = arith::SelectOp::create(
              b, l, first, zero, arith::SubIOp::create(b, l, j, one));
          auto rowOf = [&](Value tensor) -> Value {
            auto full = tensorType(tensor);
            auto rowType = RankedTensorType::get(full.getShape().drop_back(),
                                                 full.getElementType());
            return tensor::ExtractSliceOp::create(
                b, l, rowType, tensor, column(prevColumn), extents, strides);
          };
          auto [bestV, bestI] = bestOfRows(
              b, l, x, Restriction{rowOf(iter[0]), rowOf(iter[1]), first});
          Value newValues = tensor::InsertSliceOp::create(
              b, l, bestV, iter[0], column(j), extents, strides);
          Value newIndices = tensor::InsertSliceOp::create(
              b, l, bestI, iter[1], column(j), extents, strides);
          scf::YieldOp::create(b, l, ValueRange{newValues, newIndices});
        });
    dg::setContract(loop,
                    dg::TopKLoopAttr::get(rewriter.getContext(), op.getK()));
    rewriter.replaceOp(op, {loop.getResult(0), loop.getResult(1)});
    return success();
  }
};

struct LowerGather : OpRewritePattern<dg::GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value table = op.getTable(), ids = op.getIndices();
    RankedTensorType tt = tensorType(table), it = tensorType(ids);
    RankedTensorType resultType = tensorType(op.getResult());
    int64_t rank = resultType.getRank(), idRank = it.getRank();
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      if (!resultType.isDynamicDim(i))
        continue;
      sizes.push_back(i < idRank ? tensor::DimOp::create(rewriter, loc, ids, i)
                                 : tensor::DimOp::create(rewriter, loc, table,
                                                         i - idRank + 1));
    }
    AffineMap idMap =
        AffineMap::getMultiDimIdentityMap(rank, ctx).getMajorSubMap(idRank);
    Type elementType = resultType.getElementType();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, ValueRange{ids},
        ValueRange{emptyTensor(rewriter, loc, resultType, sizes)},
        ArrayRef<AffineMap>{idMap, rewriter.getMultiDimIdentityMap(rank)},
        parallelLoops(rank), [&](OpBuilder &b, Location l, ValueRange a) {
          using arith::CmpIPredicate;
          Value rows = arith::ConstantOp::create(
              b, l,
              b.getI32IntegerAttr(static_cast<int32_t>(tt.getDimSize(0))));
          Value zeroI = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
          // Out-of-range ids (padding is -1) read a zero row.
          Value valid = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, CmpIPredicate::sge, a[0], zeroI),
              arith::CmpIOp::create(b, l, CmpIPredicate::slt, a[0], rows));
          Value row = arith::IndexCastOp::create(
              b, l, b.getIndexType(),
              arith::SelectOp::create(b, l, valid, a[0], zeroI));
          SmallVector<Value> coords = {row};
          for (int64_t d = idRank; d < rank; ++d)
            coords.push_back(linalg::IndexOp::create(b, l, d));
          Value v = tensor::ExtractOp::create(b, l, table, coords);
          Value zero =
              arith::ConstantOp::create(b, l, b.getFloatAttr(elementType, 0));
          linalg::YieldOp::create(
              b, l, Value(arith::SelectOp::create(b, l, valid, v, zero)));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct LowerScatter : OpRewritePattern<dg::ScatterOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::ScatterOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value values = op.getValues();
    RankedTensorType resultType = tensorType(op.getResult());
    int64_t rank = resultType.getRank(); // loops: leading..., j, c
    SmallVector<AffineExpr> inExprs, outExprs;
    for (int64_t i = 0; i + 1 < rank; ++i) {
      inExprs.push_back(getAffineDimExpr(i, ctx));
      outExprs.push_back(getAffineDimExpr(i, ctx));
    }
    inExprs.push_back(getAffineDimExpr(rank, ctx));
    outExprs.push_back(getAffineDimExpr(rank - 1, ctx));
    AffineMap inMap = AffineMap::get(rank + 1, 0, inExprs, ctx);
    Type elementType = resultType.getElementType();
    Value acc = filledTensor(rewriter, loc, resultType,
                             leadingSizes(rewriter, loc, values),
                             rewriter.getFloatAttr(elementType, 0));
    SmallVector<utils::IteratorType> iterators = parallelLoops(rank + 1);
    iterators.back() = utils::IteratorType::reduction;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType},
        ValueRange{values, op.getIndices()}, ValueRange{acc},
        ArrayRef<AffineMap>{inMap, inMap,
                            AffineMap::get(rank + 1, 0, outExprs, ctx)},
        iterators, [&](OpBuilder &b, Location l, ValueRange a) {
          Value j = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, rank - 1));
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[1], j);
          Value sum = arith::AddFOp::create(b, l, a[2], a[0]);
          linalg::YieldOp::create(
              b, l, Value(arith::SelectOp::create(b, l, hit, sum, a[2])));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void populateSelectionPatterns(RewritePatternSet &patterns,
                               const LoweringOptions &) {
  patterns.add<LowerArgmax, LowerCategoricalSample, LowerTopK, LowerGather,
               LowerScatter>(patterns.getContext());
}

} // namespace dgc::lowering
