//===- FuseSampling.cpp - LM head + sampling statistics -> dg.sample ------===//
//
// Recognises the decoder step's head as the graph builder spells it:
//
//   l   = matmul(h, E^T) -> f32
//   l   = mul(tanh(div(l, cap)), cap)            (when the model softcaps)
//   x   = div(l, reshape(temperature, [B, 1, 1]))
//   p   = softmax(x, last axis)
//   H   = sub(logsumexp(x), sum(mul(p, x)))
//   v,i = top_k(p, k);  a = argmax(x);  out = cast(x)
//
// and replaces it by one dg.sample. Near-misses stay: a softmax over another
// axis, a cap applied on one side only, an intermediate used elsewhere.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "passes/Utils/MatchUtils.h"

#include "dg/DgDialect.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGFUSESAMPLING
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The single user of `v` of type OpTy, or null.
template <typename OpTy> OpTy userOf(Value v) {
  OpTy found;
  for (Operation *user : v.getUsers())
    if (auto op = dyn_cast<OpTy>(user)) {
      if (found)
        return nullptr;
      found = op;
    }
  return found;
}

struct FuseSamplingPattern : OpRewritePattern<dg::TopKOp> {
  FuseSamplingPattern(MLIRContext *ctx, int64_t &fused)
      : OpRewritePattern(ctx), fused(fused) {}

  LogicalResult matchAndRewrite(dg::TopKOp topK,
                                PatternRewriter &rewriter) const override {
    auto softmax = topK.getInput().getDefiningOp<dg::SoftmaxOp>();
    if (!softmax || softmax.getAxis() != 2)
      return rewriter.notifyMatchFailure(topK, "not top-k of softmax(x, 2)");
    Value x = softmax.getInput();
    auto scaled = x.getDefiningOp<dg::DivOp>();
    auto temps = scaled ? scaled.getRhs().getDefiningOp<dg::ReshapeOp>()
                        : dg::ReshapeOp();
    if (!scaled || !temps ||
        cast<RankedTensorType>(temps.getInput().getType()).getRank() != 1)
      return rewriter.notifyMatchFailure(topK, "x is not logits / temperature");
    Value logits = scaled.getLhs();
    double softcap = 0;
    SmallVector<Operation *> head = {temps}; // x itself is checked below
    if (auto capMul = logits.getDefiningOp<dg::MulOp>()) {
      auto tanh = capMul.getLhs().getDefiningOp<dg::TanhOp>();
      auto capDiv =
          tanh ? tanh.getInput().getDefiningOp<dg::DivOp>() : dg::DivOp();
      std::optional<double> outer = splatValue(capMul.getRhs());
      std::optional<double> inner =
          capDiv ? splatValue(capDiv.getRhs()) : std::nullopt;
      if (!capDiv || !outer || !inner || *outer != *inner)
        return rewriter.notifyMatchFailure(topK, "not a softcap");
      softcap = *outer;
      logits = capDiv.getLhs();
      head.append({capMul, tanh, capDiv});
    }
    auto lmHead = logits.getDefiningOp<dg::MatmulOp>();
    if (!lmHead || !lmHead.getTransposeRhs() || lmHead.getTransposeLhs() ||
        !cast<RankedTensorType>(lmHead.getType()).getElementType().isF32())
      return rewriter.notifyMatchFailure(topK, "logits are not f32(h @ E^T)");
    head.push_back(lmHead);

    // The statistics of x: argmax, the entropy, and x itself (rounded).
    auto argmax = userOf<dg::ArgmaxOp>(x);
    auto lse = userOf<dg::ReduceOp>(x);
    auto px = userOf<dg::MulOp>(softmax.getResult());
    if (!argmax || !lse || lse.getKind() != dg::ReduceKind::logsumexp ||
        lse.getAxis() != 2 || !px || px.getRhs() != x)
      return rewriter.notifyMatchFailure(topK, "no argmax or entropy of x");
    auto sum = userOf<dg::ReduceOp>(px.getResult());
    auto entropy = lse ? userOf<dg::SubOp>(lse.getResult()) : dg::SubOp();
    if (!sum || sum.getKind() != dg::ReduceKind::sum || sum.getAxis() != 2 ||
        !entropy || entropy.getLhs() != lse.getResult() ||
        entropy.getRhs() != sum.getResult())
      return rewriter.notifyMatchFailure(topK, "not the entropy of softmax(x)");
    Value xOut = x;
    if (auto round = userOf<dg::CastOp>(x))
      xOut = round.getResult();

    // Every intermediate stays inside the block.
    auto onlyUsedBy = [](Value v, ArrayRef<Operation *> users) {
      return llvm::all_of(v.getUsers(), [&](Operation *u) {
        return llvm::is_contained(users, u);
      });
    };
    Operation *round = xOut == x ? nullptr : xOut.getDefiningOp();
    SmallVector<Operation *> xUsers = {softmax, argmax, lse, px};
    if (round)
      xUsers.push_back(round);
    // In f32, x itself is an output of the graph: its other users then read
    // dg.sample's logits instead.
    if (round && !onlyUsedBy(x, xUsers))
      return rewriter.notifyMatchFailure(topK, "x is used elsewhere");
    if (!onlyUsedBy(softmax.getResult(), {topK, px}) ||
        !onlyUsedBy(px.getResult(), {sum}) ||
        !onlyUsedBy(sum.getResult(), {entropy}) ||
        !onlyUsedBy(lse.getResult(), {entropy}) ||
        !llvm::all_of(head, [&](Operation *op) { return op->hasOneUse(); }))
      return rewriter.notifyMatchFailure(topK,
                                         "an intermediate is used elsewhere");

    // dg.sample goes right after its operands (the LM head's and the
    // temperature's reshape), so that it comes before every user of what it
    // replaces: x as stored may be read by ops that precede the statistics
    // (a draw, the next step's soft embedding).
    Operation *anchor = lmHead;
    if (anchor->isBeforeInBlock(temps))
      anchor = temps;
    rewriter.setInsertionPointAfter(anchor);
    auto sample = dg::SampleOp::create(
        rewriter, topK.getLoc(), xOut.getType(), argmax.getType(),
        topK.getValues().getType(), topK.getIndices().getType(),
        entropy.getType(), lmHead.getLhs(), lmHead.getRhs(), temps.getInput(),
        rewriter.getF64FloatAttr(softcap),
        rewriter.getI64IntegerAttr(topK.getK()));
    if (round)
      rewriter.replaceOp(round, sample.getLogits());
    else
      rewriter.replaceUsesWithIf(x, sample.getLogits(), [&](OpOperand &use) {
        return !llvm::is_contained(xUsers, use.getOwner());
      });
    rewriter.replaceOp(argmax, sample.getArgmax());
    rewriter.replaceOp(entropy, sample.getEntropy());
    rewriter.replaceOp(topK, {sample.getTopkProbs(), sample.getTopkIds()});
    ++fused;
    return success();
  }

  int64_t &fused;
};

/// (softmax(x) -> compute type) @ E * scale, where E is 2-D.
struct FuseSoftEmbeddingPattern : OpRewritePattern<dg::MatmulOp> {
  FuseSoftEmbeddingPattern(MLIRContext *ctx, int64_t &fused)
      : OpRewritePattern(ctx), fused(fused) {}

  LogicalResult matchAndRewrite(dg::MatmulOp matmul,
                                PatternRewriter &rewriter) const override {
    if (matmul.getTransposeLhs() || matmul.getTransposeRhs() ||
        cast<RankedTensorType>(matmul.getRhs().getType()).getRank() != 2)
      return failure();
    Value probs = matmul.getLhs();
    auto round = probs.getDefiningOp<dg::CastOp>();
    if (round)
      probs = round.getInput();
    auto softmax = probs.getDefiningOp<dg::SoftmaxOp>();
    if (!softmax || int64_t(softmax.getAxis()) !=
                        cast<RankedTensorType>(softmax.getType()).getRank() - 1)
      return rewriter.notifyMatchFailure(matmul, "not softmax(x) @ E");
    if (!softmax->hasOneUse() || (round && !round->hasOneUse()) ||
        !matmul->hasOneUse())
      return rewriter.notifyMatchFailure(matmul, "an intermediate escapes");
    auto scaled = dyn_cast<dg::MulOp>(*matmul->user_begin());
    std::optional<double> scale =
        scaled ? splatValue(scaled.getRhs()) : std::nullopt;
    if (!scale || scaled.getLhs() != matmul.getResult())
      return rewriter.notifyMatchFailure(matmul, "no scale after the product");
    Value logits = softmax.getInput();
    if (auto widen = logits.getDefiningOp<dg::CastOp>())
      if (widen->hasOneUse())
        logits = widen.getInput();
    rewriter.setInsertionPoint(scaled);
    rewriter.replaceOpWithNewOp<dg::SoftEmbeddingOp>(
        scaled, scaled.getType(), logits, matmul.getRhs(),
        rewriter.getF64FloatAttr(*scale));
    ++fused;
    return success();
  }

  int64_t &fused;
};

struct DgFuseSamplingPass : impl::DgFuseSamplingBase<DgFuseSamplingPass> {
  using DgFuseSamplingBase::DgFuseSamplingBase;
  void runOnOperation() override {
    int64_t fused = 0, left = 0, soft = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseSamplingPattern>(&getContext(), fused);
    patterns.add<FuseSoftEmbeddingPattern>(&getContext(), soft);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Every sampling head has an argmax; those left did not fuse.
    getOperation()->walk([&](dg::ArgmaxOp) { ++left; });
    numFused += fused;
    numLeft += left;
    if (report)
      emitRemark(getOperation()->getLoc())
          << "dg-fuse-sampling: " << fused << " fused, " << left << " left; "
          << soft << " soft embeddings fused";
  }
};

} // namespace
} // namespace dgc
