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

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/MoEDispatch.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

using namespace mlir;

namespace dgc::lowering {
namespace {

struct LowerMoE : OpRewritePattern<dg::MoEOp> {
  LowerMoE(MLIRContext *ctx, int64_t groupRows)
      : OpRewritePattern(ctx), groupRows(groupRows) {}

  LogicalResult matchAndRewrite(dg::MoEOp op,
                                PatternRewriter &rewriter) const override {
    // Each step's ops carry its name (dg-gpu-name-kernels names kernels
    // after it): "moe" around "dispatch", say.
    auto step = [&](StringRef name) -> Location {
      return NameLoc::get(rewriter.getStringAttr(name), op.getLoc());
    };
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto [weights, experts] = emitRouter(op, rewriter, step("router"));

    Value x = op.getExpertInput();
    RankedTensorType xt = tensorType(x);
    RankedTensorType gut = tensorType(op.getGateUp());
    Type dt = xt.getElementType(), f32 = rewriter.getF32Type();
    int64_t lead = xt.getRank() - 1;
    int64_t numExperts = gut.getDimSize(0), hidden = gut.getDimSize(2);
    int64_t width = gut.getDimSize(1) / 2, g = groupRows;

    // Tokens as one dimension: [T, H], and [T, k] choices and weights.
    // (tensor.reshape: memref.collapse_shape of dynamic sizes trips
    // expand-strided-metadata.)
    auto reshape = [&](Value v, ArrayRef<OpFoldResult> sizes) -> Value {
      SmallVector<Value> values;
      SmallVector<int64_t> shape;
      for (OpFoldResult size : sizes) {
        values.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, size));
        std::optional<int64_t> c = getConstantIntValue(size);
        shape.push_back(c ? *c : ShapedType::kDynamic);
      }
      Value shapeTensor = tensor::FromElementsOp::create(rewriter, loc, values);
      return tensor::ReshapeOp::create(
          rewriter, loc,
          RankedTensorType::get(shape, tensorType(v).getElementType()), v,
          shapeTensor);
    };
    SmallVector<OpFoldResult> leadSizes;
    OpFoldResult tokens = rewriter.getIndexAttr(1);
    for (int64_t i = 0; i < lead; ++i) {
      OpFoldResult size =
          xt.isDynamicDim(i)
              ? OpFoldResult(
                    tensor::DimOp::create(rewriter, loc, x, i).getResult())
              : rewriter.getIndexAttr(xt.getDimSize(i));
      leadSizes.push_back(size);
      std::optional<int64_t> a = getConstantIntValue(tokens),
                             c = getConstantIntValue(size);
      tokens =
          a && c
              ? OpFoldResult(rewriter.getIndexAttr(*a * *c))
              : OpFoldResult(
                    arith::MulIOp::create(
                        rewriter, loc,
                        getValueOrCreateConstantIndexOp(rewriter, loc, tokens),
                        getValueOrCreateConstantIndexOp(rewriter, loc, size))
                        .getResult());
    }
    auto collapseLead = [&](Value v) -> Value {
      if (lead == 1)
        return v;
      return reshape(
          v, {tokens, rewriter.getIndexAttr(tensorType(v).getShape().back())});
    };
    Value x2 = collapseLead(x), w2 = collapseLead(weights);
    ExpertGroups groups = groupSlotsByExpert(
        rewriter, step("dispatch"), collapseLead(experts), numExperts, g);

    auto rounded = [&](Value f32Tensor) -> Value {
      if (dt == f32)
        return f32Tensor;
      RankedTensorType t = tensorType(f32Tensor);
      return *elementwise(
          rewriter, loc, RankedTensorType::get(t.getShape(), dt), f32Tensor,
          [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    };

    // gate and up of each tile's expert, then the activation and the down
    // projection, each rounded to the element type like the unfused graph.
    Value rows = gatherRows(rewriter, step("gather"), x2, groups, g);
    Value projected = rounded(groupedProjection(
        rewriter, step("gate_up"), rows, groups.tileExpert, op.getGateUp()));
    auto half = [&](int64_t start) -> Value {
      SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0),
                                           rewriter.getIndexAttr(0),
                                           rewriter.getIndexAttr(start)};
      SmallVector<OpFoldResult> sizes = {OpFoldResult(groups.numTiles),
                                         rewriter.getIndexAttr(g),
                                         rewriter.getIndexAttr(width)};
      SmallVector<OpFoldResult> strides(3, rewriter.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(
          rewriter, loc,
          RankedTensorType::get({ShapedType::kDynamic, g, width}, dt),
          projected, offsets, sizes, strides);
    };
    auto actType = RankedTensorType::get({ShapedType::kDynamic, g, width}, dt);
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    Value act =
        linalg::GenericOp::create(
            rewriter, step("gelu"), TypeRange{actType},
            ValueRange{half(0), half(width)},
            ValueRange{emptyTensor(rewriter, loc, actType, groups.numTiles)},
            ArrayRef<AffineMap>{identity, identity, identity}, parallelLoops(3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value y =
                  gatedGeluF32(b, l, toF32(b, l, a[0]), toF32(b, l, a[1]));
              linalg::YieldOp::create(b, l, fromF32(b, l, y, dt));
            })
            .getResult(0);
    Value down = rounded(groupedProjection(rewriter, step("down"), act,
                                           groups.tileExpert, op.getDown()));

    // The weighted sum over each token's k slots, in f32: loops (t, h, j).
    SmallVector<Value> tokenSizes;
    if (tensorType(x2).isDynamicDim(0))
      tokenSizes.push_back(tensor::DimOp::create(rewriter, loc, x2, 0));
    auto sumType =
        RankedTensorType::get({tensorType(x2).getDimSize(0), hidden}, f32);
    auto map = [&](ArrayRef<unsigned> d) {
      SmallVector<AffineExpr> e;
      for (unsigned i : d)
        e.push_back(getAffineDimExpr(i, ctx));
      return AffineMap::get(3, 0, e, ctx);
    };
    Value sum =
        linalg::GenericOp::create(
            rewriter, step("combine"), TypeRange{sumType},
            ValueRange{w2, groups.rowOfSlot},
            ValueRange{filledTensor(rewriter, loc, sumType, tokenSizes,
                                    rewriter.getF32FloatAttr(0))},
            ArrayRef<AffineMap>{map({0, 2}), map({0, 2}), map({0, 1})},
            {utils::IteratorType::parallel, utils::IteratorType::parallel,
             utils::IteratorType::reduction},
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value row =
                  arith::IndexCastOp::create(b, l, b.getIndexType(), a[1]);
              Value gc = arith::ConstantIndexOp::create(b, l, g);
              Value y = tensor::ExtractOp::create(
                  b, l, down,
                  ValueRange{arith::DivUIOp::create(b, l, row, gc),
                             arith::RemUIOp::create(b, l, row, gc),
                             linalg::IndexOp::create(b, l, 1)});
              Value p = arith::MulFOp::create(b, l, toF32(b, l, y), a[0]);
              linalg::YieldOp::create(
                  b, l, Value(arith::AddFOp::create(b, l, a[2], p)));
            })
            .getResult(0);
    Value result = rounded(sum);
    if (lead != 1) {
      SmallVector<OpFoldResult> shape = leadSizes;
      shape.push_back(rewriter.getIndexAttr(hidden));
      result = reshape(result, shape);
    }
    rewriter.replaceOp(op, result);
    return success();
  }

  /// The router as dg primitives: f32 weights [lead, k] and i32 experts.
  std::pair<Value, Value> emitRouter(dg::MoEOp op, PatternRewriter &rewriter,
                                     Location loc) const {
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

  int64_t groupRows;
};

} // namespace

void populateMoEPatterns(RewritePatternSet &patterns,
                         const LoweringOptions &options) {
  patterns.add<LowerMoE>(patterns.getContext(), options.moeGroupRows);
}

} // namespace dgc::lowering
