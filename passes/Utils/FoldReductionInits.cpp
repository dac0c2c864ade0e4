//===- FoldReductionInits.cpp - A reduction's constant start in its loops -===//
//
// A reduction whose output starts as a constant gets, from bufferization, a
// fill of that output, or a copy of a filled buffer (CSE merges identical
// fills, and each reduction then needs its own copy): a pass over the output
// before the reduction, and on the GPU a kernel each. Here such a reduction
// becomes its loops at once, an scf.parallel over its parallel loops around
// scf.for loops over its reductions, and each parallel iteration stores the
// constant to its output element before the reduction loops start. The fill
// and the copy go, and an empty reduction still leaves the constant.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace dgc {
#define GEN_PASS_DEF_DGFOLDREDUCTIONINITS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// A generic on buffers whose loops are parallel ones, then reductions, and
/// whose outputs are indexed by the parallel loops alone: its loops are one
/// scf.parallel around scf.for loops.
bool hasReductionsLast(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() == 0)
    return false;
  std::optional<unsigned> found = parallelLoopsBeforeReductions(op);
  if (!found || *found == 0)
    return false;
  unsigned parallel = *found;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    if (!map.isProjectedPermutation())
      return false;
    for (AffineExpr e : map.getResults())
      if (cast<AffineDimExpr>(e).getPosition() >= parallel)
        return false;
  }
  return true;
}

struct FoldReductionInits : impl::DgFoldReductionInitsBase<FoldReductionInits> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>() && hasReductionsLast(op))
        reductions.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : reductions) {
      unsigned outputs = op.getNumDpsInits();
      SmallVector<std::optional<TypedAttr>> startsAs(outputs);
      bool any = false;
      for (unsigned i = 0; i < outputs; ++i) {
        startsAs[i] = takeConstantInit(op, op.getDpsInits()[i]);
        any |= startsAs[i].has_value();
      }
      if (any)
        lower(rewriter, op, startsAs);
    }
  }

  /// Replaces `op` by its loops, storing each output's constant start in
  /// the parallel loop's body.
  void lower(IRRewriter &rewriter, linalg::GenericOp op,
             ArrayRef<std::optional<TypedAttr>> startsAs) {
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::LinalgLoops> loops =
        linalg::linalgOpToParallelLoops(rewriter, op);
    auto parallel = succeeded(loops) && !loops->empty()
                        ? dyn_cast<scf::ParallelOp>(loops->front())
                        : scf::ParallelOp();
    if (!parallel) {
      // Not the expected nest: the fills come back and the op stays.
      if (succeeded(loops) && !loops->empty())
        rewriter.eraseOp(loops->front());
      for (auto [start, out] : llvm::zip(startsAs, op.getDpsInits()))
        if (start)
          linalg::FillOp::create(
              rewriter, loc,
              arith::ConstantOp::create(rewriter, loc, *start).getResult(),
              out);
      return;
    }
    rewriter.setInsertionPointToStart(parallel.getBody());
    for (unsigned i = 0; i < startsAs.size(); ++i) {
      if (!startsAs[i])
        continue;
      OpOperand *out = op.getDpsInitOperand(i);
      SmallVector<Value> at;
      for (AffineExpr e : op.getMatchingIndexingMap(out).getResults())
        at.push_back(
            parallel.getInductionVars()[cast<AffineDimExpr>(e).getPosition()]);
      memref::StoreOp::create(
          rewriter, loc,
          arith::ConstantOp::create(rewriter, loc, *startsAs[i]).getResult(),
          out->get(), at);
    }
    rewriter.eraseOp(op);
  }
};

} // namespace
} // namespace dgc
