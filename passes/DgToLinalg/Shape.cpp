//===- Shape.cpp - dg reshape, transpose, slice, repeat_interleave --------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace dgc::lowering {
namespace {

/// dg.reshape carries the dynamic dimensions over in order, so the target
/// shape is known: static sizes, and the input's dynamic sizes in order.
struct LowerReshape : OpRewritePattern<dg::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    RankedTensorType in = tensorType(input), out = tensorType(op.getResult());
    SmallVector<Value> dynamic;
    for (int64_t i = 0; i < in.getRank(); ++i)
      if (in.isDynamicDim(i))
        dynamic.push_back(tensor::DimOp::create(rewriter, loc, input, i));
    SmallVector<Value> extents;
    size_t next = 0;
    for (int64_t size : out.getShape())
      extents.push_back(
          ShapedType::isDynamic(size)
              ? dynamic[next++]
              : arith::ConstantIndexOp::create(rewriter, loc, size)
                    .getResult());
    Value shape = tensor::FromElementsOp::create(rewriter, loc, extents);
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, out, input, shape);
    return success();
  }
};

struct LowerTranspose : OpRewritePattern<dg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    RankedTensorType out = tensorType(op.getResult());
    ArrayRef<int64_t> perm = op.getPermutation();
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < out.getRank(); ++i)
      if (out.isDynamicDim(i))
        sizes.push_back(tensor::DimOp::create(rewriter, loc, input, perm[i]));
    Value init = emptyTensor(rewriter, loc, out, sizes);
    auto transpose =
        linalg::TransposeOp::create(rewriter, loc, input, init, perm);
    rewriter.replaceOp(op, transpose.getResult());
    return success();
  }
};

struct LowerSlice : OpRewritePattern<dg::SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::SliceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    RankedTensorType in = tensorType(input);
    int64_t axis = op.getAxis();
    SmallVector<OpFoldResult> offsets(in.getRank(), rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(in.getRank(), rewriter.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < in.getRank(); ++i) {
      if (i == axis)
        sizes.push_back(rewriter.getIndexAttr(op.getSize()));
      else if (in.isDynamicDim(i))
        sizes.push_back(
            tensor::DimOp::create(rewriter, loc, input, i).getResult());
      else
        sizes.push_back(rewriter.getIndexAttr(in.getDimSize(i)));
    }
    offsets[axis] = rewriter.getIndexAttr(op.getStart());
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, tensorType(op.getResult()), input, offsets, sizes, strides);
    return success();
  }
};

struct LowerRepeatInterleave : OpRewritePattern<dg::RepeatInterleaveOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(dg::RepeatInterleaveOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput();
    RankedTensorType out = tensorType(op.getResult());
    int64_t rank = out.getRank(), axis = op.getAxis();
    if (out.isDynamicDim(axis))
      return rewriter.notifyMatchFailure(op, "dynamic repeated axis");
    SmallVector<AffineExpr> exprs;
    for (int64_t i = 0; i < rank; ++i)
      exprs.push_back(i == axis
                          ? getAffineDimExpr(i, ctx).floorDiv(op.getRepeats())
                          : getAffineDimExpr(i, ctx));
    SmallVector<Value> sizes;
    for (int64_t i = 0; i < rank; ++i)
      if (out.isDynamicDim(i))
        sizes.push_back(tensor::DimOp::create(rewriter, loc, input, i));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{out}, ValueRange{input},
        ValueRange{emptyTensor(rewriter, loc, out, sizes)},
        ArrayRef<AffineMap>{AffineMap::get(rank, 0, exprs, ctx),
                            rewriter.getMultiDimIdentityMap(rank)},
        parallelLoops(rank), [](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(b, l, a[0]);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void populateShapePatterns(RewritePatternSet &patterns,
                           const LoweringOptions &) {
  patterns.add<LowerReshape, LowerTranspose, LowerSlice, LowerRepeatInterleave>(
      patterns.getContext());
}

} // namespace dgc::lowering
