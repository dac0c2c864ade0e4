//===- MoE.cpp - dg.moe: router as dg ops, experts grouped by token -------===//
//
// The router is re-emitted as the dg primitives it stands for (the
// conversion then lowers them like any other). The experts run only for
// each token's top-k choices: the expert's weights are read at the chosen
// index inside the loops, so the work is k/experts of the dense form.
// Rounding points match the unfused graph: the gate/up projection, the
// activation and each expert's output round to the element type, and the
// weighted sum runs in f32.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;

namespace dgc::lowering {
namespace {

RankedTensorType withShape(RankedTensorType t, ArrayRef<int64_t> shape,
                           Type element = {}) {
  return RankedTensorType::get(shape, element ? element : t.getElementType());
}

struct LowerMoE : OpRewritePattern<dg::MoEOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(dg::MoEOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto [weights, experts] = emitRouter(op, rewriter);

    Value x = op.getExpertInput();
    RankedTensorType xt = tensorType(x);
    RankedTensorType gut = tensorType(op.getGateUp());
    Type dt = xt.getElementType(), f32 = rewriter.getF32Type();
    int64_t lead = xt.getRank() - 1, k = op.getTopK();
    int64_t hidden = gut.getDimSize(2), width = gut.getDimSize(1) / 2;
    SmallVector<int64_t> leadShape(xt.getShape().drop_back());
    SmallVector<Value> leadSizes;
    for (int64_t i = 0; i < lead; ++i)
      if (xt.isDynamicDim(i))
        leadSizes.push_back(tensor::DimOp::create(rewriter, loc, x, i));

    auto dims = [&](int64_t n) {
      SmallVector<AffineExpr> e;
      for (int64_t i = 0; i < n; ++i)
        e.push_back(getAffineDimExpr(i, ctx));
      return e;
    };
    auto map = [&](int64_t loops, ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(loops, 0, exprs, ctx);
    };
    auto shapeWith = [&](ArrayRef<int64_t> tail) {
      SmallVector<int64_t> s = leadShape;
      s.append(tail.begin(), tail.end());
      return s;
    };
    auto iterators = [&](int64_t parallel, int64_t reduction) {
      SmallVector<utils::IteratorType> it = parallelLoops(parallel);
      it.append(reduction, utils::IteratorType::reduction);
      return it;
    };
    auto rounded = [&](Value f32Tensor) -> Value {
      if (dt == f32)
        return f32Tensor;
      auto type = withShape(tensorType(f32Tensor),
                            tensorType(f32Tensor).getShape(), dt);
      return *elementwise(
          rewriter, loc, type, f32Tensor,
          [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    };
    auto zeros = [&](ArrayRef<int64_t> shape) {
      return filledTensor(rewriter, loc, RankedTensorType::get(shape, f32),
                          leadSizes, rewriter.getF32FloatAttr(0));
    };
    auto fast = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
    auto expertIndex = [&](OpBuilder &b, Location l, Value e) -> Value {
      return arith::IndexCastOp::create(b, l, b.getIndexType(), e);
    };

    // out[lead, j, o] = sum_r in[lead, (j,) r] * weight[e[lead, j], o, r]:
    // one chosen expert's projection per slot, loops (lead, j, o, r).
    auto chosenExpertProjection = [&](Value input, bool perSlot, Value weight,
                                      int64_t outWidth) -> Value {
      int64_t n = lead + 3;
      SmallVector<AffineExpr> d = dims(n);
      SmallVector<AffineExpr> slot(d.begin(), d.begin() + lead + 1);
      SmallVector<AffineExpr> in(d.begin(), d.begin() + lead + perSlot);
      SmallVector<AffineExpr> out = slot;
      in.push_back(d[lead + 2]);
      out.push_back(d[lead + 1]);
      SmallVector<int64_t> shape = shapeWith({k, outWidth});
      return linalg::GenericOp::create(
                 rewriter, loc, TypeRange{RankedTensorType::get(shape, f32)},
                 ValueRange{input, experts}, ValueRange{zeros(shape)},
                 ArrayRef<AffineMap>{map(n, in), map(n, slot), map(n, out)},
                 iterators(n - 1, 1),
                 [&](OpBuilder &b, Location l, ValueRange a) {
                   Value w = tensor::ExtractOp::create(
                       b, l, weight,
                       ValueRange{expertIndex(b, l, a[1]),
                                  linalg::IndexOp::create(b, l, lead + 1),
                                  linalg::IndexOp::create(b, l, lead + 2)});
                   Value p = arith::MulFOp::create(b, l, toF32(b, l, a[0]),
                                                   toF32(b, l, w), fast);
                   linalg::YieldOp::create(
                       b, l, Value(arith::AddFOp::create(b, l, a[2], p, fast)));
                 })
          .getResult(0);
    };

    // gate and up of each chosen expert, then its activation and down
    // projection, each rounded to the element type like the unfused graph.
    Value projected =
        chosenExpertProjection(x, /*perSlot=*/false, op.getGateUp(), 2 * width);
    projected = rounded(projected);

    // gelu_tanh(gate) * up over the two halves: loops (lead, j, i). The
    // halves are slices so that every operand spans the loops exactly.
    auto half = [&](int64_t start) -> Value {
      RankedTensorType t = tensorType(projected);
      SmallVector<OpFoldResult> offsets(t.getRank(), rewriter.getIndexAttr(0));
      SmallVector<OpFoldResult> strides(t.getRank(), rewriter.getIndexAttr(1));
      SmallVector<OpFoldResult> sizes;
      for (int64_t a = 0; a < t.getRank(); ++a)
        sizes.push_back(t.isDynamicDim(a)
                            ? OpFoldResult(tensor::DimOp::create(rewriter, loc,
                                                                 projected, a)
                                               .getResult())
                            : rewriter.getIndexAttr(t.getDimSize(a)));
      offsets.back() = rewriter.getIndexAttr(start);
      sizes.back() = rewriter.getIndexAttr(width);
      return tensor::ExtractSliceOp::create(rewriter, loc,
                                            withShape(t, shapeWith({k, width})),
                                            projected, offsets, sizes, strides);
    };
    int64_t n = lead + 2;
    auto actType = RankedTensorType::get(shapeWith({k, width}), dt);
    AffineMap identity = rewriter.getMultiDimIdentityMap(n);
    Value act =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{actType}, ValueRange{half(0), half(width)},
            ValueRange{emptyTensor(rewriter, loc, actType, leadSizes)},
            ArrayRef<AffineMap>{identity, identity, identity}, parallelLoops(n),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value y =
                  gatedGeluF32(b, l, toF32(b, l, a[0]), toF32(b, l, a[1]));
              linalg::YieldOp::create(b, l, fromF32(b, l, y, dt));
            })
            .getResult(0);

    Value slots =
        chosenExpertProjection(act, /*perSlot=*/true, op.getDown(), hidden);
    slots = rounded(slots);

    // The weighted sum over the k slots, in f32: loops (lead, hh, j).
    SmallVector<AffineExpr> d = dims(n);
    SmallVector<AffineExpr> lead0(d.begin(), d.begin() + lead);
    SmallVector<AffineExpr> ySlot = lead0, wSlot = lead0, out = lead0;
    ySlot.append({d[lead + 1], d[lead]});
    wSlot.push_back(d[lead + 1]);
    out.push_back(d[lead]);
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc,
            TypeRange{RankedTensorType::get(shapeWith({hidden}), f32)},
            ValueRange{slots, weights}, ValueRange{zeros(shapeWith({hidden}))},
            ArrayRef<AffineMap>{map(n, ySlot), map(n, wSlot), map(n, out)},
            iterators(n - 1, 1),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value p = arith::MulFOp::create(b, l, toF32(b, l, a[0]), a[1]);
              linalg::YieldOp::create(
                  b, l, Value(arith::AddFOp::create(b, l, a[2], p)));
            })
            .getResult(0);
    rewriter.replaceOp(op, rounded(sum));
    return success();
  }

  /// The router as dg primitives: f32 weights [lead, k] and i32 experts.
  std::pair<Value, Value> emitRouter(dg::MoEOp op,
                                     PatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    Value r = op.getRouterInput();
    RankedTensorType rt = tensorType(r);
    Type dt = rt.getElementType(), f32 = rewriter.getF32Type();
    int64_t experts = tensorType(op.getRouterProj()).getDimSize(0);
    int64_t hidden = rt.getShape().back(), k = op.getTopK();
    SmallVector<int64_t> lead(rt.getShape().drop_back());
    auto shape = [&](int64_t last) {
      SmallVector<int64_t> s = lead;
      s.push_back(last);
      return s;
    };
    auto bcast = [&](Value a, Value b) -> Value {
      return dg::MulOp::create(rewriter, loc, a.getType(), a, b);
    };
    Value z = dg::RMSNormOp::create(rewriter, loc, r, Value(),
                                    op.getEpsilon().convertToDouble());
    z = bcast(z, op.getRouterScale());
    auto scalarType = RankedTensorType::get({}, dt);
    z = bcast(z, arith::ConstantOp::create(
                     rewriter, loc,
                     DenseElementsAttr::get(
                         scalarType,
                         FloatAttr::get(dt, 1.0 / std::sqrt(static_cast<double>(
                                                      hidden))))));
    Value logits = dg::MatmulOp::create(
        rewriter, loc, RankedTensorType::get(shape(experts), dt), z,
        op.getRouterProj(), /*transpose_lhs=*/false, /*transpose_rhs=*/true);
    if (dt != f32)
      logits = dg::CastOp::create(
          rewriter, loc, RankedTensorType::get(shape(experts), f32), logits);
    int64_t axis = static_cast<int64_t>(lead.size());
    Value probs = dg::SoftmaxOp::create(rewriter, loc, logits, axis);
    auto top = dg::TopKOp::create(
        rewriter, loc, RankedTensorType::get(shape(k), f32),
        RankedTensorType::get(shape(k), rewriter.getI32Type()), probs, k);
    Value sum =
        dg::ReduceOp::create(rewriter, loc, RankedTensorType::get(lead, f32),
                             top.getValues(), dg::ReduceKind::sum, axis);
    sum = dg::ReshapeOp::create(rewriter, loc,
                                RankedTensorType::get(shape(1), f32), sum);
    Value w = dg::DivOp::create(rewriter, loc, top.getValues().getType(),
                                top.getValues(), sum);
    Value scale = op.getPerExpertScale();
    if (dt != f32)
      scale = dg::CastOp::create(rewriter, loc,
                                 RankedTensorType::get({experts}, f32), scale);
    Value perExpert = dg::GatherOp::create(rewriter, loc,
                                           RankedTensorType::get(shape(k), f32),
                                           scale, top.getIndices());
    w = dg::MulOp::create(rewriter, loc, w.getType(), w, perExpert);
    return {w, top.getIndices()};
  }
};

} // namespace

void populateMoEPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMoE>(patterns.getContext());
}

} // namespace dgc::lowering
