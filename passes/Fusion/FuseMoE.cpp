//===- FuseMoE.cpp - Router + experts + combine -> dg.moe -----------------===//
//
// Recognises the mixture-of-experts block as the graph builder (or any
// exporter writing the same math) spells it with primitives:
//
//   z      = mul(mul(rms_norm(r), router_scale), hidden^-0.5)
//   p      = softmax(cast_f32(matmul(z, router_proj^T)), last axis)
//   v, e   = top_k(p, k)
//   w      = mul(div(v, sum(v)), gather(cast_f32(per_expert_scale), e))
//   dense  = scatter(w, e, experts)                      [.., experts]
//   gu     = matmul(reshape(x, [B, 1, T, H]), gate_up^T)  every expert
//   y      = matmul(gated_gelu(gu[..I], gu[I..]), down^T)
//   out    = cast(sum_experts(cast_f32(y) * dense^T))
//
// and replaces it by one dg.moe. Anything else is left alone: another
// scale, a softmax over another axis, a missing renormalisation, or an
// intermediate with a user outside the block.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "passes/Utils/MatchUtils.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace dgc {
#define GEN_PASS_DEF_DGFUSEMOE
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

bool isLastAxis(Value v, int64_t axis) {
  return axis == cast<RankedTensorType>(v.getType()).getRank() - 1;
}

/// The pieces of a matched block.
struct MoEMatch {
  Value routerInput, expertInput, routerScale, routerProj, perExpertScale;
  Value gateUp, down;
  int64_t topK;
  double epsilon;
  SmallVector<Operation *> interior; // every op the block replaces
};

class MoEMatcher {
public:
  MoEMatcher(dg::ScatterOp scatter, PatternRewriter &rewriter)
      : scatter(scatter), rewriter(rewriter) {}

  /// The matched block and its root (the op whose result dg.moe replaces).
  FailureOr<std::pair<MoEMatch, Operation *>> match();

private:
  LogicalResult fail(const Twine &why) {
    return rewriter.notifyMatchFailure(scatter, why);
  }
  /// Records an op of the block; `uses` is how many users it may have, all
  /// of them inside the block.
  template <typename OpTy> OpTy take(Value v, unsigned uses = 1) {
    auto op = v.getDefiningOp<OpTy>();
    if (op) {
      interior.push_back(op);
      expectedUses.push_back(uses);
    }
    return op;
  }
  LogicalResult matchRouter(dg::TopKOp topK, MoEMatch &m);
  LogicalResult matchExperts(Value y, MoEMatch &m);

  dg::ScatterOp scatter;
  PatternRewriter &rewriter;
  SmallVector<Operation *> interior;
  SmallVector<unsigned> expectedUses;
};

LogicalResult MoEMatcher::matchRouter(dg::TopKOp topK, MoEMatch &m) {
  auto softmax = take<dg::SoftmaxOp>(topK.getInput());
  if (!softmax || !isLastAxis(softmax.getInput(), softmax.getAxis()))
    return fail("top-k does not read a softmax over the experts");
  Value logits = softmax.getInput();
  if (logits != throughCast(logits))
    take<dg::CastOp>(logits);
  auto proj = take<dg::MatmulOp>(throughCast(logits));
  if (!proj || !proj.getTransposeRhs() || proj.getTransposeLhs())
    return fail("router logits are not z @ router_proj^T");
  auto scaled = take<dg::MulOp>(proj.getLhs());
  if (!scaled)
    return fail("router input is not scaled");
  auto byVector = take<dg::MulOp>(scaled.getLhs());
  std::optional<double> factor = splatValue(scaled.getRhs());
  int64_t hidden =
      cast<RankedTensorType>(proj.getRhs().getType()).getDimSize(1);
  double expected = 1.0 / std::sqrt(static_cast<double>(hidden));
  if (!byVector || !factor || std::abs(*factor - expected) > 1e-2 * expected)
    return fail("router input is not scaled by hidden^-0.5");
  auto norm = take<dg::RMSNormOp>(byVector.getLhs());
  if (!norm || norm.getWeight())
    return fail("router input is not a no-scale RMSNorm");
  m.routerInput = norm.getInput();
  m.routerScale = byVector.getRhs();
  m.routerProj = proj.getRhs();
  m.epsilon = norm.getEpsilon().convertToDouble();
  m.topK = topK.getK();
  return success();
}

LogicalResult MoEMatcher::matchExperts(Value y, MoEMatch &m) {
  auto downMatmul = take<dg::MatmulOp>(y);
  if (!downMatmul || !downMatmul.getTransposeRhs())
    return fail("expert outputs are not act @ down^T");
  auto act = take<dg::GatedGeluOp>(downMatmul.getLhs());
  if (!act)
    return fail("experts are not gated-gelu MLPs");
  auto gate = take<dg::SliceOp>(act.getGate());
  auto up = take<dg::SliceOp>(act.getUp());
  if (!gate || !up || gate.getInput() != up.getInput())
    return fail("gate and up are not halves of one projection");
  int64_t width = gate.getSize();
  if (gate.getStart() != 0 || int64_t(up.getStart()) != width ||
      int64_t(up.getSize()) != width ||
      !isLastAxis(gate.getInput(), gate.getAxis()) ||
      !isLastAxis(up.getInput(), up.getAxis()))
    return fail("gate and up are not the two halves of the last axis");
  auto gateUp = take<dg::MatmulOp>(gate.getInput(), /*uses=*/2);
  if (!gateUp || !gateUp.getTransposeRhs())
    return fail("gate_up is not x @ gate_up^T");
  auto spread = take<dg::ReshapeOp>(gateUp.getLhs());
  if (!spread)
    return fail("expert input is not broadcast over the experts");
  m.expertInput = spread.getInput();
  m.gateUp = gateUp.getRhs();
  m.down = downMatmul.getRhs();
  return success();
}

FailureOr<std::pair<MoEMatch, Operation *>> MoEMatcher::match() {
  MoEMatch m;
  interior.push_back(scatter);
  expectedUses.push_back(1);

  // Routing weights: top-k of the router, renormalised, scaled per expert.
  auto weighted = take<dg::MulOp>(scatter.getValues());
  if (!weighted)
    return fail("scattered values are not scaled per expert");
  auto perExpert = take<dg::GatherOp>(weighted.getRhs());
  auto renorm = take<dg::DivOp>(weighted.getLhs());
  if (!perExpert || !renorm)
    return fail("routing weights are not renormalised and scaled per expert");
  auto topK = take<dg::TopKOp>(renorm.getLhs(), /*uses=*/4);
  auto sumShape = take<dg::ReshapeOp>(renorm.getRhs());
  dg::ReduceOp sum =
      sumShape ? take<dg::ReduceOp>(sumShape.getInput()) : nullptr;
  if (!topK || !sum || sum.getKind() != dg::ReduceKind::sum ||
      sum.getInput() != topK.getValues() ||
      !isLastAxis(sum.getInput(), sum.getAxis()))
    return fail("top-k weights are not divided by their sum");
  if (perExpert.getIndices() != topK.getIndices() ||
      scatter.getIndices() != topK.getIndices())
    return fail("the experts are not the top-k's");
  Value table = perExpert.getTable();
  if (table != throughCast(table))
    take<dg::CastOp>(table);
  m.perExpertScale = throughCast(table);
  if (failed(matchRouter(topK, m)))
    return failure();

  // The combine: sum over experts of y * dense^T, rounded once.
  if (!scatter->hasOneUse())
    return fail("the routing matrix has other users");
  auto transpose = dyn_cast<dg::TransposeOp>(*scatter->user_begin());
  if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1} ||
      !transpose->hasOneUse())
    return fail("the routing matrix is not transposed to experts-major");
  interior.push_back(transpose);
  expectedUses.push_back(1);
  auto columns = dyn_cast<dg::ReshapeOp>(*transpose->user_begin());
  if (!columns || !columns->hasOneUse())
    return fail("the routing weights are not reshaped to columns");
  interior.push_back(columns);
  expectedUses.push_back(1);
  auto product = dyn_cast<dg::MulOp>(*columns->user_begin());
  if (!product || product.getRhs() != columns.getResult() ||
      !product->hasOneUse())
    return fail("expert outputs are not weighted by the routing matrix");
  interior.push_back(product);
  expectedUses.push_back(1);
  auto combine = dyn_cast<dg::ReduceOp>(*product->user_begin());
  if (!combine || combine.getKind() != dg::ReduceKind::sum ||
      combine.getAxis() != 1)
    return fail("weighted expert outputs are not summed over the experts");
  interior.push_back(combine);
  expectedUses.push_back(1);
  Operation *root = combine;
  if (combine->hasOneUse())
    if (auto round = dyn_cast<dg::CastOp>(*combine->user_begin())) {
      interior.push_back(round);
      expectedUses.push_back(UINT_MAX); // the root: any users
      root = round;
    }
  Value y = product.getLhs();
  if (y != throughCast(y))
    take<dg::CastOp>(y);
  if (failed(matchExperts(throughCast(y), m)))
    return failure();

  // Nothing of the block may be used outside it.
  llvm::SmallPtrSet<Operation *, 32> inside(interior.begin(), interior.end());
  for (auto [op, uses] : llvm::zip(interior, expectedUses)) {
    if (op == root || uses == UINT_MAX)
      continue;
    unsigned count = 0;
    for (Operation *user : op->getUsers()) {
      if (!inside.contains(user))
        return fail("an intermediate of the block has a user outside it");
      ++count;
    }
    if (count > uses)
      return fail("an intermediate of the block is used more than expected");
  }
  m.interior = interior;
  return std::make_pair(m, root);
}

struct FuseMoEPattern : OpRewritePattern<dg::ScatterOp> {
  FuseMoEPattern(MLIRContext *ctx, int64_t &fused)
      : OpRewritePattern(ctx), fused(fused) {}

  LogicalResult matchAndRewrite(dg::ScatterOp scatter,
                                PatternRewriter &rewriter) const override {
    MoEMatcher matcher(scatter, rewriter);
    auto matched = matcher.match();
    if (failed(matched))
      return failure();
    auto &[m, root] = *matched;
    rewriter.setInsertionPoint(root); // after every operand of the block
    auto moe = dg::MoEOp::create(
        rewriter, root->getLoc(), root->getResult(0).getType(), m.routerInput,
        m.expertInput, m.routerScale, m.routerProj, m.perExpertScale, m.gateUp,
        m.down, rewriter.getI64IntegerAttr(m.topK),
        rewriter.getF64FloatAttr(m.epsilon));
    rewriter.replaceOp(root, moe.getResult());
    ++fused;
    return success();
  }

  int64_t &fused;
};

struct DgFuseMoEPass : impl::DgFuseMoEBase<DgFuseMoEPass> {
  using DgFuseMoEBase::DgFuseMoEBase;
  void runOnOperation() override {
    int64_t fused = 0, left = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseMoEPattern>(&getContext(), fused);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    getOperation()->walk([&](dg::ScatterOp) { ++left; });
    numFused += fused;
    numLeft += left;
    if (report)
      emitRemark(getOperation()->getLoc())
          << "dg-fuse-moe: " << fused << " fused, " << left << " left";
  }
};

} // namespace
} // namespace dgc
