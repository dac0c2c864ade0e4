//===- Positions.cpp - dg.rope, dg.mask, dg.patch_pool to linalg ----------===//
//
// Ops whose elements depend on token or patch positions: the body computes
// each output element from its indices and the positions it reads.
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace dgc::lowering {
namespace {

Value indexConst(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIndexOp::create(b, l, v);
}

/// inv_freq[i] = 1 / theta^(2i / dim) for the `rotated` first pairs, 0 for
/// the rest, computed in f32 as the reference does.
Value inverseFrequencies(OpBuilder &b, Location loc, double theta, int64_t dim,
                         int64_t pairs, int64_t rotated) {
  SmallVector<float> values;
  for (int64_t i = 0; i < pairs; ++i)
    values.push_back(i < rotated ? 1.0f / std::pow(static_cast<float>(theta),
                                                   static_cast<float>(2 * i) /
                                                       static_cast<float>(dim))
                                 : 0.0f);
  auto type = RankedTensorType::get({pairs}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, ArrayRef<float>(values)));
}

struct LowerRope : OpRewritePattern<dg::RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::RopeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput(), positions = op.getPositions();
    RankedTensorType type = tensorType(x);
    int64_t headDim = type.getDimSize(3);
    bool twoD = op.getKind() == dg::RopeKind::two_d;
    // A rotation group: the whole head, or each half of it for 2-D RoPE.
    int64_t group = twoD ? headDim / 2 : headDim;
    int64_t pairs = group / 2;
    int64_t rotated =
        op.getKind() == dg::RopeKind::proportional
            ? static_cast<int64_t>(
                  op.getPartialRotaryFactor().convertToDouble() * headDim / 2)
            : pairs;
    Value invFreq = inverseFrequencies(
        rewriter, loc, op.getTheta().convertToDouble(), group, pairs, rotated);

    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    if (twoD) {
      for (int64_t c = 0; c < 2; ++c) {
        inputs.push_back(positions);
        maps.push_back(
            AffineMap::get(4, 0, {d0, d1, getAffineConstantExpr(c, ctx)}, ctx));
      }
    } else {
      inputs.push_back(positions);
      maps.push_back(AffineMap::get(4, 0, {d0, d1}, ctx));
    }
    maps.push_back(rewriter.getMultiDimIdentityMap(4));
    auto sizes = dynamicSizesFrom(rewriter, loc, type, x);
    if (failed(sizes))
      return failure();
    Type elementType = type.getElementType();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, inputs,
        ValueRange{emptyTensor(rewriter, loc, type, *sizes)}, maps,
        parallelLoops(4), [&](OpBuilder &b, Location l, ValueRange a) {
          using arith::CmpIPredicate;
          Value d = linalg::IndexOp::create(b, l, 3);
          Value groupSize = indexConst(b, l, group);
          Value half = indexConst(b, l, pairs);
          Value base =
              twoD ? Value(arith::MulIOp::create(
                         b, l, arith::DivUIOp::create(b, l, d, groupSize),
                         groupSize))
                   : indexConst(b, l, 0);
          Value local = arith::SubIOp::create(b, l, d, base);
          Value first =
              arith::CmpIOp::create(b, l, CmpIPredicate::ult, local, half);
          Value i = arith::RemUIOp::create(b, l, local, half);
          Value partner = arith::AddIOp::create(
              b, l, base,
              arith::SelectOp::create(
                  b, l, first, arith::AddIOp::create(b, l, local, half),
                  arith::SubIOp::create(b, l, local, half)));
          Value pos = a[0];
          if (twoD)
            pos = arith::SelectOp::create(
                b, l,
                arith::CmpIOp::create(b, l, CmpIPredicate::eq, base,
                                      indexConst(b, l, 0)),
                a[0], a[1]);
          Value freq = tensor::ExtractOp::create(b, l, invFreq, ValueRange{i});
          Value angle = arith::MulFOp::create(b, l, toF32(b, l, pos), freq);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          Value self = tensor::ExtractOp::create(
              b, l, x,
              ValueRange{linalg::IndexOp::create(b, l, 0),
                         linalg::IndexOp::create(b, l, 1),
                         linalg::IndexOp::create(b, l, 2), d});
          Value other = tensor::ExtractOp::create(
              b, l, x,
              ValueRange{linalg::IndexOp::create(b, l, 0),
                         linalg::IndexOp::create(b, l, 1),
                         linalg::IndexOp::create(b, l, 2), partner});
          // rotate_half: the first half takes -x2, the second half x1.
          Value rot = toF32(b, l, other);
          rot = arith::SelectOp::create(b, l, first,
                                        arith::NegFOp::create(b, l, rot), rot);
          Value out = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, toF32(b, l, self), cos),
              arith::MulFOp::create(b, l, rot, sin));
          linalg::YieldOp::create(b, l, fromF32(b, l, out, elementType));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct LowerMask : OpRewritePattern<dg::MaskOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::MaskOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType type = tensorType(op.getResult());
    Value q = op.getQueryPositions(), k = op.getKeyPositions();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    SmallVector<Value> inputs = {q, k};
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {d0, d1}, ctx),
                                   AffineMap::get(3, 0, {d0, d2}, ctx)};
    if (Value committed = op.getCommittedLengths()) {
      inputs.push_back(committed);
      maps.push_back(AffineMap::get(3, 0, {d0}, ctx));
    }
    // The first and last key of each query's span, read as two inputs.
    Value spans = op.getSpans();
    if (spans) {
      inputs.append({spans, spans});
      maps.push_back(
          AffineMap::get(3, 0, {d0, d1, getAffineConstantExpr(0, ctx)}, ctx));
      maps.push_back(
          AffineMap::get(3, 0, {d0, d1, getAffineConstantExpr(1, ctx)}, ctx));
    }
    maps.push_back(rewriter.getMultiDimIdentityMap(3));
    SmallVector<Value> sizes;
    if (type.isDynamicDim(0))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, q, 0));
    if (type.isDynamicDim(1))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, q, 1));
    if (type.isDynamicDim(2))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, k, 1));
    dg::MaskKind kind = op.getKind();
    int64_t window = op.getWindow();
    Type elementType = type.getElementType();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, inputs,
        ValueRange{emptyTensor(rewriter, loc, type, sizes)}, maps,
        parallelLoops(3), [&](OpBuilder &b, Location l, ValueRange a) {
          using arith::CmpIPredicate;
          auto i32 = [&](int64_t v) -> Value {
            return arith::ConstantOp::create(
                b, l, b.getI32IntegerAttr(static_cast<int32_t>(v)));
          };
          auto cmp = [&](CmpIPredicate p, Value x, Value y) -> Value {
            return arith::CmpIOp::create(b, l, p, x, y);
          };
          auto both = [&](Value x, Value y) -> Value {
            return arith::AndIOp::create(b, l, x, y);
          };
          Value qp = a[0], kp = a[1];
          Value visible = cmp(CmpIPredicate::sge, kp, i32(0));
          if (kind == dg::MaskKind::causal) {
            visible = both(visible, cmp(CmpIPredicate::sle, kp, qp));
            if (window > 0)
              visible = both(visible, cmp(CmpIPredicate::slt,
                                          arith::SubIOp::create(b, l, qp, kp),
                                          i32(window)));
            if (spans) {
              Value inSpan = both(cmp(CmpIPredicate::sge, kp, a[2]),
                                  cmp(CmpIPredicate::sle, kp, a[3]));
              visible = arith::OrIOp::create(b, l, visible, inSpan);
            }
          } else if (kind == dg::MaskKind::canvas && window > 0) {
            // Canvas keys always; committed keys only in the last window-1.
            Value committed = a[2];
            Value inCanvas = cmp(CmpIPredicate::sge, kp, committed);
            Value inWindow =
                cmp(CmpIPredicate::sge, kp,
                    arith::SubIOp::create(b, l, committed, i32(window - 1)));
            visible =
                both(visible, arith::OrIOp::create(b, l, inCanvas, inWindow));
          }
          Value zero =
              arith::ConstantOp::create(b, l, b.getFloatAttr(elementType, 0));
          Value minusInf = arith::ConstantOp::create(
              b, l,
              b.getFloatAttr(elementType,
                             -std::numeric_limits<double>::infinity()));
          linalg::YieldOp::create(
              b, l,
              Value(arith::SelectOp::create(b, l, visible, zero, minusInf)));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct LowerPatchPool : OpRewritePattern<dg::PatchPoolOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::PatchPoolOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value h = op.getInput(), positions = op.getPositions();
    RankedTensorType type = tensorType(op.getResult());
    int64_t kernel = op.getKernel();
    Type i32 = rewriter.getI32Type();
    AffineExpr n = getAffineDimExpr(0, ctx), p = getAffineDimExpr(1, ctx);
    auto coord = [&](int64_t c, unsigned rank) {
      return AffineMap::get(rank, 0, {n, p, getAffineConstantExpr(c, ctx)},
                            ctx);
    };

    // Width of each image in patches: max x + 1.
    SmallVector<Value> nSize;
    if (type.isDynamicDim(0))
      nSize.push_back(tensor::DimOp::create(rewriter, loc, h, 0));
    auto widthType = RankedTensorType::get({type.getDimSize(0)}, i32);
    Value width0 = filledTensor(rewriter, loc, widthType, nSize,
                                rewriter.getI32IntegerAttr(0));
    Value width =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{widthType}, ValueRange{positions},
            ValueRange{width0},
            ArrayRef<AffineMap>{coord(0, 2), AffineMap::get(2, 0, {n}, ctx)},
            {utils::IteratorType::parallel, utils::IteratorType::reduction},
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value one =
                  arith::ConstantOp::create(b, l, b.getI32IntegerAttr(1));
              linalg::YieldOp::create(
                  b, l,
                  Value(arith::MaxSIOp::create(
                      b, l, a[1], arith::AddIOp::create(b, l, a[0], one))));
            })
            .getResult(0);

    // Loops n, j, d, p (p reduces): sum the patches that fall in bin j.
    AffineExpr j = getAffineDimExpr(1, ctx), d = getAffineDimExpr(2, ctx),
               pp = getAffineDimExpr(3, ctx);
    auto pcoord = [&](int64_t c) {
      return AffineMap::get(4, 0, {n, pp, getAffineConstantExpr(c, ctx)}, ctx);
    };
    auto accType =
        RankedTensorType::get(type.getShape(), rewriter.getF32Type());
    SmallVector<Value> sizes = nSize;
    if (type.isDynamicDim(2))
      sizes.push_back(tensor::DimOp::create(rewriter, loc, h, 2));
    Value acc = filledTensor(rewriter, loc, accType, sizes,
                             rewriter.getF32FloatAttr(0));
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{accType},
            ValueRange{h, positions, positions, width}, ValueRange{acc},
            ArrayRef<AffineMap>{AffineMap::get(4, 0, {n, pp, d}, ctx),
                                pcoord(0), pcoord(1),
                                AffineMap::get(4, 0, {n}, ctx),
                                AffineMap::get(4, 0, {n, j, d}, ctx)},
            {utils::IteratorType::parallel, utils::IteratorType::parallel,
             utils::IteratorType::parallel, utils::IteratorType::reduction},
            [&](OpBuilder &b, Location l, ValueRange a) {
              using arith::CmpIPredicate;
              Value k = arith::ConstantOp::create(
                  b, l, b.getI32IntegerAttr(static_cast<int32_t>(kernel)));
              Value zeroI =
                  arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
              Value x = a[1], y = a[2], w = a[3];
              Value bin = arith::AddIOp::create(
                  b, l, arith::DivSIOp::create(b, l, x, k),
                  arith::MulIOp::create(b, l,
                                        arith::DivSIOp::create(b, l, w, k),
                                        arith::DivSIOp::create(b, l, y, k)));
              Value jj = arith::IndexCastOp::create(
                  b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 1));
              Value hit = arith::AndIOp::create(
                  b, l,
                  arith::CmpIOp::create(b, l, CmpIPredicate::sge, x, zeroI),
                  arith::CmpIOp::create(b, l, CmpIPredicate::eq, bin, jj));
              Value added =
                  arith::AddFOp::create(b, l, a[4], toF32(b, l, a[0]));
              linalg::YieldOp::create(
                  b, l, Value(arith::SelectOp::create(b, l, hit, added, a[4])));
            })
            .getResult(0);
    auto result =
        elementwise(rewriter, loc, type, sum,
                    [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                      return arith::DivFOp::create(
                          b, l, a[0],
                          scalarConstant(b, l, b.getF32Type(),
                                         static_cast<double>(kernel * kernel)));
                    });
    if (failed(result))
      return failure();
    rewriter.replaceOp(op, *result);
    return success();
  }
};

} // namespace

void populatePositionPatterns(RewritePatternSet &patterns,
                              const LoweringOptions &) {
  patterns.add<LowerRope, LowerMask, LowerPatchPool>(patterns.getContext());
}

} // namespace dgc::lowering
