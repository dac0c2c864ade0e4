//===- FuseAttention.cpp - Projection epilogue + attention -> dg.attention ===//
//
// Recognises one layer's attention as the graph builder spells it, from the
// raw q/k/v projections on:
//
//   q' = rope(rms_norm(q, wq)); k' = rope(rms_norm(k, wk)); v' = rms_norm(v)
//   dg.kv_cache_write cache[l], k', v', positions
//   K, V, kpos = dg.kv_cache_read cache[l], lengths
//   s = matmul(transpose(q'), transpose(repeat(K)))^T   [* scale]
//   p = softmax(s + reshape(mask(positions, kpos, ...)), last axis)
//   out = transpose(matmul(p, transpose(repeat(V))))
//
// and replaces it by one dg.attention. Near-misses stay: a scale that is not
// a constant, a softmax over another axis, a mask over other positions, a
// cache read of another layer, an intermediate used elsewhere.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "passes/Utils/MatchUtils.h"

#include "dg/DgDialect.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGFUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

bool isHeadSwap(dg::TransposeOp t) {
  return t && t.getPermutation() == ArrayRef<int64_t>{0, 2, 1, 3};
}

struct Epilogue {
  dg::RopeOp rope;
  dg::RMSNormOp norm;
};

/// rope(rms_norm(raw, weight), positions).
std::optional<Epilogue> matchEpilogue(Value v) {
  auto rope = v.getDefiningOp<dg::RopeOp>();
  auto norm =
      rope ? rope.getInput().getDefiningOp<dg::RMSNormOp>() : dg::RMSNormOp();
  if (!rope || !norm || !norm.getWeight())
    return std::nullopt;
  return Epilogue{rope, norm};
}

struct FuseAttentionPattern : OpRewritePattern<dg::TransposeOp> {
  FuseAttentionPattern(MLIRContext *ctx, int64_t &fused)
      : OpRewritePattern(ctx), fused(fused) {}

  LogicalResult matchAndRewrite(dg::TransposeOp root,
                                PatternRewriter &rewriter) const override {
    auto fail = [&](const char *why) {
      return rewriter.notifyMatchFailure(root, why);
    };
    SmallVector<Operation *> block; // every op the fused op replaces
    auto pv = root.getInput().getDefiningOp<dg::MatmulOp>();
    if (!isHeadSwap(root) || !pv || pv.getTransposeLhs() ||
        pv.getTransposeRhs())
      return fail("not transpose(p @ V)");
    block.append({root, pv});
    auto probs = throughCast(pv.getLhs());
    auto softmax = probs.getDefiningOp<dg::SoftmaxOp>();
    if (!softmax || softmax.getAxis() != 3)
      return fail("p is not a softmax over the keys");
    block.push_back(softmax);
    if (probs != pv.getLhs())
      block.push_back(pv.getLhs().getDefiningOp());
    auto masked = throughCast(softmax.getInput()).getDefiningOp<dg::AddOp>();
    if (!masked)
      return fail("scores are not masked");
    block.push_back(masked);
    if (softmax.getInput().getDefiningOp<dg::CastOp>())
      block.push_back(softmax.getInput().getDefiningOp());
    auto maskShape = masked.getRhs().getDefiningOp<dg::ReshapeOp>();
    auto mask = maskShape ? maskShape.getInput().getDefiningOp<dg::MaskOp>()
                          : dg::MaskOp();
    if (!mask)
      return fail("the mask is not a dg.mask");
    // The mask may be shared by every layer (the vision tower's is): it is
    // not part of the block, and goes once nothing reads it.
    Value scores = masked.getLhs();
    double scale = 1.0;
    if (auto mul = scores.getDefiningOp<dg::MulOp>()) {
      std::optional<double> c = splatValue(mul.getRhs());
      if (!c)
        return fail("scores are scaled by a non-constant");
      scale = *c;
      scores = mul.getLhs();
      block.push_back(mul);
    }
    auto qk = scores.getDefiningOp<dg::MatmulOp>();
    if (!qk || !qk.getTransposeRhs() || qk.getTransposeLhs())
      return fail("scores are not q @ K^T");
    block.push_back(qk);
    auto qT = qk.getLhs().getDefiningOp<dg::TransposeOp>();
    auto kT = qk.getRhs().getDefiningOp<dg::TransposeOp>();
    auto vT = pv.getRhs().getDefiningOp<dg::TransposeOp>();
    if (!isHeadSwap(qT) || !isHeadSwap(kT) || !isHeadSwap(vT))
      return fail("q, K, V are not head-major");
    block.append({qT, kT, vT});
    auto ungroup = [&](Value v) -> Value {
      if (auto rep = v.getDefiningOp<dg::RepeatInterleaveOp>()) {
        if (rep.getAxis() != 2)
          return Value();
        block.push_back(rep);
        return rep.getInput();
      }
      return v;
    };
    Value keys = ungroup(kT.getInput()), values = ungroup(vT.getInput());
    std::optional<Epilogue> qe = matchEpilogue(qT.getInput());
    if (!keys || !values || !qe)
      return fail("q, K, V are not the projections' epilogue");
    Value positions = qe->rope.getPositions();
    auto read = keys.getDefiningOp<dg::KVCacheReadOp>();
    Value kOut, vOut; // k' and v' as written (or used directly)
    dg::KVCacheWriteOp write;
    bool canvas = mask.getKind() == dg::MaskKind::canvas;
    if (read) {
      if (values != read.getValues() ||
          mask.getKeyPositions() != read.getPositions())
        return fail("K, V and the key positions are not one cache read");
      if (mask.getQueryPositions() != positions)
        return fail("the mask is not over the query positions");
      block.push_back(read);
      for (Operation *op = read->getPrevNode(); op; op = op->getPrevNode())
        if (auto w = dyn_cast<dg::KVCacheWriteOp>(op)) {
          if (w.getCache() == read.getCache() &&
              w.getLayer() == read.getLayer())
            write = w;
          break; // the nearest cache write must be this layer's
        }
      if (!write || write.getPositions() != positions)
        return fail("no write of this layer at the query positions before "
                    "the read");
      if (mask.getKind() == dg::MaskKind::bidirectional ||
          canvas != write.getScratch())
        return fail("mask kind and write mode do not go together");
      kOut = write.getKey();
      vOut = write.getValue();
      block.push_back(write);
    } else {
      // No cache: K and V are this chunk's own, every valid key visible.
      if (mask.getKind() != dg::MaskKind::bidirectional ||
          mask.getQueryPositions() != mask.getKeyPositions())
        return fail("an uncached attention must be bidirectional");
      kOut = keys;
      vOut = values;
    }
    std::optional<Epilogue> ke = matchEpilogue(kOut);
    auto vNorm = vOut.getDefiningOp<dg::RMSNormOp>();
    if (!ke || !vNorm || vNorm.getWeight() ||
        ke->rope.getPositions() != positions ||
        ke->rope.getKind() != qe->rope.getKind() ||
        ke->rope.getTheta() != qe->rope.getTheta() ||
        ke->rope.getPartialRotaryFactor() !=
            qe->rope.getPartialRotaryFactor() ||
        ke->norm.getEpsilon() != qe->norm.getEpsilon() ||
        vNorm.getEpsilon() != qe->norm.getEpsilon())
      return fail("k and v are not the epilogue of their projections");
    block.append({qe->rope, qe->norm, ke->rope, ke->norm, vNorm});

    // A cached read covers exactly what the fused op reads.
    if (read) {
      auto lengths = read.getLengths().getDefiningOp<dg::AddOp>();
      double extra = -1; // what the read adds to the positions
      if (lengths)
        extra = splatValue(lengths.getRhs()).value_or(-1);
      int64_t tokens =
          cast<RankedTensorType>(positions.getType()).getDimSize(1);
      if (!lengths || extra < 0)
        return fail("the read length is not a known function of the "
                    "positions");
      if (canvas) {
        if (lengths.getLhs() != mask.getCommittedLengths() ||
            extra != static_cast<double>(tokens))
          return fail("a canvas read is not committed + canvas");
      } else {
        auto last = lengths.getLhs().getDefiningOp<dg::ReduceOp>();
        if (!last || last.getKind() != dg::ReduceKind::max ||
            last.getInput() != positions || last.getAxis() != 1 || extra != 1)
          return fail("a causal read is not max(position) + 1");
        block.push_back(last);
      }
      block.push_back(lengths);
    }

    // Nothing of the block may be used outside it.
    llvm::SmallPtrSet<Operation *, 32> inside(block.begin(), block.end());
    inside.insert(mask);      // may be shared, but reads only the block's
    inside.insert(maskShape); // key positions or the inputs
    for (Operation *op : block)
      if (op != root)
        for (Operation *user : op->getUsers())
          if (!inside.contains(user))
            return fail("an intermediate is used outside the attention");

    rewriter.setInsertionPoint(root);
    auto attention = dg::AttentionOp::create(
        rewriter, root.getLoc(), root.getType(), qe->norm.getInput(),
        ke->norm.getInput(), vNorm.getInput(), qe->norm.getWeight(),
        ke->norm.getWeight(), positions, read ? read.getCache() : Value(),
        mask.getCommittedLengths(), read ? Value() : mask.getKeyPositions(),
        mask.getSpans(), read ? read.getLayerAttr() : rewriter.getI64IntegerAttr(0),
        dg::MaskKindAttr::get(getContext(), mask.getKind()),
        mask.getWindowAttr(), rewriter.getF64FloatAttr(scale),
        dg::RopeKindAttr::get(getContext(), qe->rope.getKind()),
        qe->rope.getThetaAttr(), qe->rope.getPartialRotaryFactorAttr(),
        qe->norm.getEpsilonAttr(), write ? write.getScratchAttr() : UnitAttr());
    llvm::erase(block, root.getOperation());
    rewriter.replaceOp(root, attention.getResult());
    // The cache ops have effects: erase the block explicitly, users first.
    llvm::sort(block, [](Operation *a, Operation *b) {
      return b->isBeforeInBlock(a);
    });
    block.erase(std::unique(block.begin(), block.end()), block.end());
    for (Operation *op : block)
      if (op->use_empty())
        rewriter.eraseOp(op);
    for (Operation *op : {maskShape.getOperation(), mask.getOperation()})
      if (op->use_empty())
        rewriter.eraseOp(op);
    ++fused;
    return success();
  }

  int64_t &fused;
};

struct DgFuseAttentionPass : impl::DgFuseAttentionBase<DgFuseAttentionPass> {
  using DgFuseAttentionBase::DgFuseAttentionBase;
  void runOnOperation() override {
    int64_t fused = 0, left = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseAttentionPattern>(&getContext(), fused);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Attention softmaxes (over the keys of [B, heads, T, S]) left unfused.
    getOperation()->walk([&](dg::SoftmaxOp op) {
      if (cast<RankedTensorType>(op.getType()).getRank() == 4)
        ++left;
    });
    numFused += fused;
    numLeft += left;
    if (report)
      emitRemark(getOperation()->getLoc())
          << "dg-fuse-attention: " << fused << " fused, " << left << " left";
  }
};

} // namespace
} // namespace dgc
