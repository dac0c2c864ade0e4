//===- Sampling.cpp - dg.sample: the head and one pass of statistics ------===//
//
// dg.sample becomes the LM head (a matmul, then softcap and temperature as
// elementwise ops), one pass over each row of the logits for its softmax
// statistics (max, sum of exponentials, entropy, argmax; RowStatistics.h),
// and a top-k whose probabilities come from those statistics. No
// [positions x vocabulary] probabilities are made: the unfused graph's
// softmax, log-sum-exp, p * x and argmax are four more passes over the
// logits and two more such temporaries.
//
// When the op returns its logits rounded (bf16), the f32 logits need not
// outlive the head: the statistics read the raw product and apply softcap
// and temperature themselves, and the top-k runs on the rounded logits.
// Rounding keeps order (x > y implies round(x) >= round(y)), so the f32
// top-k lies among the k + `candidates` largest rounded logits unless more
// than `candidates` of them tie with the k-th: their f32 values are
// recomputed (a dot product each) and the top-k taken among them. The
// candidates come from groups of columns (candidatesOf), so the rounded
// logits are read once more, not once per pass of a radix select. The
// CUDA target then folds the statistics and the groups' maxima into the
// head's GEMM, which writes only the rounded logits
// (dg-gpu-tensor-core-contractions).
//
//===----------------------------------------------------------------------===//

#include "passes/DgToLinalg/LoweringUtils.h"
#include "passes/DgToLinalg/Patterns.h"

#include "dg/DgDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace dgc::lowering {
namespace {

/// The head's value of one raw product `l` (f32) at temperature `t`:
/// softcapped tanh(l / cap) * cap when cap > 0, then divided by t.
Value headValue(OpBuilder &b, Location loc, Value l, Value t, double cap) {
  if (cap > 0) {
    Value c = scalarConstant(b, loc, b.getF32Type(), cap);
    l = arith::MulFOp::create(
        b, loc,
        math::TanhOp::create(b, loc, arith::DivFOp::create(b, loc, l, c)), c);
  }
  return arith::DivFOp::create(b, loc, l, t);
}

/// headValue of (raw, temperature) arguments, as mapRows passes them.
std::function<Value(OpBuilder &, Location, ValueRange)> headOf(double cap) {
  return [cap](OpBuilder &b, Location l, ValueRange a) {
    return headValue(b, l, a[0], a[1], cap);
  };
}

/// [B, S, tail...] of `element`, B and S those of `like`.
RankedTensorType rowsType(RankedTensorType like, ArrayRef<int64_t> tail,
                          Type element) {
  SmallVector<int64_t> shape = {like.getDimSize(0), like.getDimSize(1)};
  llvm::append_range(shape, tail);
  return RankedTensorType::get(shape, element);
}

/// Each row's temperature in f32, [B, S], from the op's [B].
Value rowTemperatures(OpBuilder &b, Location loc, dg::SampleOp op,
                      ValueRange rowSizes) {
  auto type = rowsType(tensorType(op.getLogits()), {}, b.getF32Type());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{op.getTemperature()},
             ValueRange{emptyTensor(b, loc, type, rowSizes)},
             ArrayRef<AffineMap>{
                 AffineMap::get(2, 0, getAffineDimExpr(0, b.getContext())),
                 b.getMultiDimIdentityMap(2)},
             parallelLoops(2),
             [](OpBuilder &nb, Location l, ValueRange a) {
               linalg::YieldOp::create(nb, l, toF32(nb, l, a[0]));
             })
      .getResult(0);
}

/// A sum over q of the loops (b, s, r, q) into a zero-filled i32 [B, S, n]
/// of `term(atR at (b, s, r), atQ at (b, s, q), r)`: comparisons among the
/// n chosen groups of a row.
Value sumOverPairs(
    OpBuilder &b, Location loc, RankedTensorType type, ValueRange rowSizes,
    ValueRange atR, ValueRange atQ,
    function_ref<Value(OpBuilder &, Location, ValueRange, ValueRange, Value)>
        term) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  AffineMap rowR = AffineMap::get(4, 0, {d(0), d(1), d(2)}, ctx);
  AffineMap rowQ = AffineMap::get(4, 0, {d(0), d(1), d(3)}, ctx);
  SmallVector<Value> inputs(atR);
  llvm::append_range(inputs, atQ);
  SmallVector<AffineMap> maps(atR.size(), rowR);
  maps.append(atQ.size(), rowQ);
  maps.push_back(rowR);
  SmallVector<utils::IteratorType> loops = parallelLoops(4);
  loops.back() = utils::IteratorType::reduction;
  size_t rCount = atR.size(), qCount = atQ.size();
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, inputs,
             ValueRange{
                 filledTensor(b, loc, type, rowSizes, b.getI32IntegerAttr(0))},
             maps, loops,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value r = arith::IndexCastOp::create(
                   nb, l, nb.getI32Type(), linalg::IndexOp::create(nb, l, 2));
               Value sum =
                   arith::AddIOp::create(nb, l, a.back(),
                                         term(nb, l, a.take_front(rCount),
                                              a.slice(rCount, qCount), r));
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

/// The probabilities of the top-k values and the entropy, from the
/// statistics (max, sum of exponentials, sum of p * (x - max)).
std::pair<Value, FailureOr<Value>>
probabilitiesAndEntropy(OpBuilder &b, Location loc, dg::SampleOp op,
                        ValueRange stats, Value topValues) {
  Value max = stats[0], sumExp = stats[1], sumShifted = stats[2];
  // entropy = logsumexp(x) - sum p x = log s - u / s.
  FailureOr<Value> entropy = elementwise(
      b, loc, tensorType(op.getEntropy()), {sumExp, sumShifted},
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::SubFOp::create(nb, l, math::LogOp::create(nb, l, a[0]),
                                     arith::DivFOp::create(nb, l, a[1], a[0]));
      });
  auto probsType = tensorType(op.getTopkProbs());
  Value probs =
      mapRows(b, loc, topValues, {max, sumExp}, {}, probsType.getRank() - 1,
              probsType, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                Value shifted = arith::SubFOp::create(nb, l, a[0], a[1]);
                return arith::DivFOp::create(
                    nb, l, math::ExpOp::create(nb, l, shifted), a[2]);
              });
  return {probs, entropy};
}

struct LowerSample : OpRewritePattern<dg::SampleOp> {
  LowerSample(MLIRContext *ctx, int64_t candidates)
      : OpRewritePattern(ctx), candidates(candidates) {}

  LogicalResult matchAndRewrite(dg::SampleOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType out = tensorType(op.getLogits());
    int64_t vocab = tensorType(op.getEmbedding()).getDimSize(0);
    int64_t k = op.getTopK();
    int64_t extra = std::min(candidates, vocab - k);
    if (!out.getElementType().isF32() && extra > 0)
      return rewriteRounded(op, rewriter, extra);
    return rewriteExact(op, rewriter);
  }

  /// x in f32, read by the statistics, the top-k and the rounding.
  LogicalResult rewriteExact(dg::SampleOp op, PatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    RankedTensorType out = tensorType(op.getLogits());
    auto f32Type = RankedTensorType::get(out.getShape(), f32);
    SmallVector<Value> rowSizes =
        dynamicSizesWithout(rewriter, loc, op.getHidden(), 2);
    Value raw = dg::MatmulOp::create(rewriter, loc, f32Type, op.getHidden(),
                                     op.getEmbedding(), /*transpose_lhs=*/false,
                                     /*transpose_rhs=*/true);
    Value x = mapRows(rewriter, loc, raw,
                      {rowTemperatures(rewriter, loc, op, rowSizes)}, {}, 2,
                      f32Type, headOf(op.getSoftcap().convertToDouble()));
    SmallVector<Value> stats = rowStatistics(rewriter, loc, x);
    // The k largest logits are the k largest probabilities; ties still go
    // to the lower id.
    auto probsType = tensorType(op.getTopkProbs());
    auto top = dg::TopKOp::create(
        rewriter, loc, RankedTensorType::get(probsType.getShape(), f32),
        op.getTopkIds().getType(), x, op.getTopK());
    auto [probs, entropy] =
        probabilitiesAndEntropy(rewriter, loc, op, stats, top.getValues());
    if (failed(entropy))
      return failure();
    Value logits = x;
    if (out.getElementType() != f32)
      logits = dg::CastOp::create(rewriter, loc, out, x);
    rewriter.replaceOp(op,
                       {logits, stats[3], probs, top.getIndices(), *entropy});
    return success();
  }

  /// The raw product in f32, read only by the statistics and the rounding;
  /// the top-k from `extra` candidates beyond k among the rounded logits.
  LogicalResult rewriteRounded(dg::SampleOp op, PatternRewriter &rewriter,
                               int64_t extra) const {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    RankedTensorType out = tensorType(op.getLogits());
    double cap = op.getSoftcap().convertToDouble();
    int64_t k = op.getTopK(), width = k + extra;
    Value hidden = op.getHidden(), table = op.getEmbedding();
    SmallVector<Value> rowSizes = dynamicSizesWithout(rewriter, loc, hidden, 2);
    auto rowsOf = [&](int64_t n, Type element) {
      return rowsType(out, {n}, element);
    };
    Value temperature = rowTemperatures(rewriter, loc, op, rowSizes);
    auto head = [cap](OpBuilder &b, Location l, Value raw, ValueRange t) {
      return headValue(b, l, raw, t[0], cap);
    };

    Value raw = dg::MatmulOp::create(
        rewriter, loc, RankedTensorType::get(out.getShape(), f32), hidden,
        table, /*transpose_lhs=*/false, /*transpose_rhs=*/true);
    Value logits =
        mapRows(rewriter, loc, raw, {temperature}, {}, 2, out, headOf(cap));
    SmallVector<Value> stats =
        rowStatistics(rewriter, loc, raw, {temperature}, head);

    // The candidates: the `width` largest rounded logits, then their f32
    // values, each a dot product of the row's hidden state with the id's
    // embedding, in f32 like the head's GEMM.
    Value candidateIds = candidatesOf(rewriter, loc, logits, width, rowSizes);
    AffineMap rowJ =
        AffineMap::get(4, 0,
                       {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                        getAffineDimExpr(2, ctx)},
                       ctx);
    AffineMap rowH =
        AffineMap::get(4, 0,
                       {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                        getAffineDimExpr(3, ctx)},
                       ctx);
    SmallVector<utils::IteratorType> dotLoops = parallelLoops(4);
    dotLoops.back() = utils::IteratorType::reduction;
    Value dots =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf(width, f32)},
            ValueRange{hidden, candidateIds},
            ValueRange{filledTensor(rewriter, loc, rowsOf(width, f32), rowSizes,
                                    rewriter.getF32FloatAttr(0))},
            ArrayRef<AffineMap>{rowH, rowJ, rowJ}, dotLoops,
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value id =
                  arith::IndexCastOp::create(b, l, b.getIndexType(), a[1]);
              Value e = tensor::ExtractOp::create(
                  b, l, table,
                  ValueRange{id, linalg::IndexOp::create(b, l, 3)});
              Value product = arith::MulFOp::create(b, l, toF32(b, l, a[0]),
                                                    toF32(b, l, e));
              Value sum = arith::AddFOp::create(b, l, a[2], product);
              linalg::YieldOp::create(b, l, sum);
            })
            .getResult(0);
    Value candidateX = mapRows(rewriter, loc, dots, {temperature}, {}, 2,
                               rowsOf(width, f32), headOf(cap));
    // Among equal f32 values the rounded ones are equal too, and the
    // candidates are then in id order: the top-k's tie to the lower
    // position is its tie to the lower id.
    auto top = dg::TopKOp::create(rewriter, loc, rowsOf(k, f32), rowsOf(k, i32),
                                  candidateX, k);
    Value ids =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf(k, i32)},
            ValueRange{top.getIndices()},
            ValueRange{emptyTensor(rewriter, loc, rowsOf(k, i32), rowSizes)},
            ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(3),
                                rewriter.getMultiDimIdentityMap(3)},
            parallelLoops(3),
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value at =
                  arith::IndexCastOp::create(b, l, b.getIndexType(), a[0]);
              Value id = tensor::ExtractOp::create(
                  b, l, candidateIds,
                  ValueRange{linalg::IndexOp::create(b, l, 0),
                             linalg::IndexOp::create(b, l, 1), at});
              linalg::YieldOp::create(b, l, id);
            })
            .getResult(0);
    auto [probs, entropy] =
        probabilitiesAndEntropy(rewriter, loc, op, stats, top.getValues());
    if (failed(entropy))
      return failure();
    rewriter.replaceOp(op, {logits, stats[3], probs, ids, *entropy});
    return success();
  }

  /// The ids of the `width` largest of `logits` [B, S, V] (rounded), in
  /// (value descending, id ascending) order. Over a large vocabulary, in
  /// groups of G columns (G up to 64, V / G at least 2 * width): each
  /// group's max, the `width` groups of the largest maxima, and the top
  /// `width` of their columns. Every column that belongs among the top
  /// `width` lies in a group whose max is at least the `width`-th largest
  /// max, so this reads each row once and then width * G columns, not the
  /// whole row a few times over; it differs from the plain top-k only when
  /// more than `width` groups tie at that max.
  Value candidatesOf(PatternRewriter &rewriter, Location loc, Value logits,
                     int64_t width, ValueRange rowSizes) const {
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType type = tensorType(logits);
    Type element = type.getElementType(), i32 = rewriter.getI32Type();
    int64_t vocab = type.getDimSize(2);
    auto rowsOf = [&](ArrayRef<int64_t> tail, Type t) {
      return rowsType(type, tail, t);
    };
    int64_t group = 64;
    while (group >= 2 && (vocab % group != 0 || vocab / group < 2 * width))
      group /= 2;
    if (group < 2)
      return dg::TopKOp::create(rewriter, loc, rowsOf({width}, element),
                                rowsOf({width}, i32), logits, width)
          .getIndices();
    int64_t groups = vocab / group;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto index = [&](OpBuilder &b, Location l, unsigned dim) -> Value {
      return linalg::IndexOp::create(b, l, dim);
    };
    auto toIndex = [](OpBuilder &b, Location l, Value v) -> Value {
      return arith::IndexCastOp::create(b, l, b.getIndexType(), v);
    };
    auto constant = [](OpBuilder &b, Location l, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, l, v);
    };
    // Each group's max: a row reduction over [B, S, V / G, G].
    Value grouped = tensor::ExpandShapeOp::create(
        rewriter, loc, rowsOf({groups, group}, element), logits,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    SmallVector<utils::IteratorType> reduceLast = parallelLoops(4);
    reduceLast.back() = utils::IteratorType::reduction;
    Value maxima =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf({groups}, element)},
            ValueRange{grouped},
            ValueRange{filledTensor(
                rewriter, loc, rowsOf({groups}, element), rowSizes,
                rewriter.getFloatAttr(
                    element, -std::numeric_limits<double>::infinity()))},
            ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(4),
                                AffineMap::get(4, 0, {d(0), d(1), d(2)}, ctx)},
            reduceLast,
            [](OpBuilder &b, Location l, ValueRange a) {
              // A compare and a select: the host has no bf16 max (LLVM
              // would round an f32 one back through a libgcc call).
              Value greater = arith::CmpFOp::create(
                  b, l, arith::CmpFPredicate::OGT, a[0], a[1]);
              Value max = arith::SelectOp::create(b, l, greater, a[0], a[1]);
              linalg::YieldOp::create(b, l, max);
            })
            .getResult(0);
    dg::setContract(maxima.getDefiningOp(),
                    dg::ColumnGroupMaxAttr::get(ctx, group));
    Value chosen = dg::TopKOp::create(rewriter, loc, rowsOf({width}, element),
                                      rowsOf({width}, i32), maxima, width)
                       .getIndices();
    // The chosen groups in ascending order (group g goes to the number of
    // chosen groups before it), so that columns keep their ids' order.
    Value rank = sumOverPairs(
        rewriter, loc, rowsOf({width}, i32), rowSizes, {chosen}, {chosen},
        [](OpBuilder &b, Location l, ValueRange group, ValueRange other,
           Value) -> Value {
          Value before = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                               other[0], group[0]);
          return arith::ExtUIOp::create(b, l, b.getI32Type(), before);
        });
    // sorted[r] = the chosen group of rank r (a sum with one term).
    Value sorted = sumOverPairs(
        rewriter, loc, rowsOf({width}, i32), rowSizes, {}, {chosen, rank},
        [](OpBuilder &b, Location l, ValueRange, ValueRange q,
           Value r) -> Value {
          Value here =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, q[1], r);
          Value zero = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
          return arith::SelectOp::create(b, l, here, q[0], zero);
        });
    // Their columns, [B, S, width * G], and the top `width` of those.
    auto columnOf = [&](OpBuilder &b, Location l, Value position) -> Value {
      Value g = arith::DivUIOp::create(b, l, position, constant(b, l, group));
      Value j = arith::RemUIOp::create(b, l, position, constant(b, l, group));
      Value chosenGroup = tensor::ExtractOp::create(
          b, l, sorted, ValueRange{index(b, l, 0), index(b, l, 1), g});
      return arith::AddIOp::create(
          b, l,
          arith::MulIOp::create(b, l, toIndex(b, l, chosenGroup),
                                constant(b, l, group)),
          j);
    };
    AffineMap identity3 = rewriter.getMultiDimIdentityMap(3);
    Value columns =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowsOf({width * group}, element)},
            ValueRange{},
            ValueRange{emptyTensor(rewriter, loc,
                                   rowsOf({width * group}, element), rowSizes)},
            ArrayRef<AffineMap>{identity3}, parallelLoops(3),
            [&](OpBuilder &b, Location l, ValueRange) {
              Value v = tensor::ExtractOp::create(
                  b, l, logits,
                  ValueRange{index(b, l, 0), index(b, l, 1),
                             columnOf(b, l, index(b, l, 2))});
              linalg::YieldOp::create(b, l, v);
            })
            .getResult(0);
    Value positions =
        dg::TopKOp::create(rewriter, loc, rowsOf({width}, element),
                           rowsOf({width}, i32), columns, width)
            .getIndices();
    return linalg::GenericOp::create(
               rewriter, loc, TypeRange{rowsOf({width}, i32)},
               ValueRange{positions},
               ValueRange{
                   emptyTensor(rewriter, loc, rowsOf({width}, i32), rowSizes)},
               ArrayRef<AffineMap>{identity3, identity3}, parallelLoops(3),
               [&](OpBuilder &b, Location l, ValueRange a) {
                 Value id = arith::IndexCastOp::create(
                     b, l, b.getI32Type(), columnOf(b, l, toIndex(b, l, a[0])));
                 linalg::YieldOp::create(b, l, id);
               })
        .getResult(0);
  }

  int64_t candidates;
};

} // namespace

void populateSamplingPatterns(RewritePatternSet &patterns,
                              const LoweringOptions &options) {
  patterns.add<LowerSample>(patterns.getContext(), options.sampleCandidates);
}

} // namespace dgc::lowering
