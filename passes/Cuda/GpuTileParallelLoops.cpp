//===- GpuTileParallelLoops.cpp - Blocks of threads for parallel loops ----===//
//
// convert-parallel-loops-to-gpu turns an outer scf.parallel into the grid and
// a directly nested one into the block; a loop straight from linalg has no
// nested one, and its trip counts may exceed the block limit. Tiling with
// bound checks (no min/max bounds, which the mapping cannot size) gives
// every outermost loop that two-level form. The pipeline maps innermost
// first, so that neighbouring threads (x) touch neighbouring elements, and
// the tiles respect each axis's limit (z: 64 threads).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUTILEPARALLELLOOPS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Threads a block may have along x, y and z. gpu-map-parallel-loops
/// (innermost-first) maps a loop's last dimension to x, the one before to y
/// and the one before that to z; it maps only three.
constexpr int64_t kBlockLimit[3] = {1024, 1024, 64};

/// Leading dimensions of a loop of more than three, folded into one: the
/// mapper would run the innermost ones sequentially in each thread instead,
/// where neighbouring threads should touch neighbouring elements.
/// Whether it collapsed anything.
bool collapseToThreeDimensions(scf::ParallelOp loop) {
  unsigned rank = loop.getNumLoops();
  if (rank <= 3)
    return false;
  std::vector<unsigned> leading;
  for (unsigned d = 0; d + 2 < rank; ++d)
    leading.push_back(d);
  IRRewriter rewriter(loop.getContext());
  rewriter.setInsertionPoint(loop);
  mlir::collapseParallelLoops(rewriter, loop,
                              {leading, {rank - 2}, {rank - 1}});
  return true;
}

/// Tile sizes giving a block of at most `threads`: the innermost dimensions
/// take what their static trip counts use, a dynamic one takes the rest, and
/// none more than its axis allows.
SmallVector<int64_t> blockTileSizes(scf::ParallelOp loop, int64_t threads) {
  unsigned rank = loop.getNumLoops();
  SmallVector<int64_t> sizes(rank, 1);
  int64_t left = threads;
  for (int d = static_cast<int>(rank) - 1, axis = 0; d >= 0 && left > 1;
       --d, ++axis) {
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[d]);
    std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[d]);
    std::optional<int64_t> step = getConstantIntValue(loop.getStep()[d]);
    int64_t size = std::min(left, kBlockLimit[axis]);
    if (lb && ub && step && *step > 0)
      size =
          std::max<int64_t>(1, std::min(size, (*ub - *lb + *step - 1) / *step));
    sizes[d] = size;
    left /= size;
  }
  return sizes;
}

struct GpuTileParallelLoops
    : impl::DgGpuTileParallelLoopsBase<GpuTileParallelLoops> {
  using Base::Base;
  void runOnOperation() override {
    if (threads < 1 || threads > 1024) {
      getOperation().emitError("threads must be in [1, 1024]");
      return signalPassFailure();
    }
    auto outermostLoops = [&] {
      SmallVector<scf::ParallelOp> outermost;
      getOperation().walk([&](scf::ParallelOp loop) {
        // Inside sequential loops too: gpu-map-parallel-loops maps those
        // (one launch per iteration).
        if (!loop->getParentOfType<scf::ParallelOp>())
          outermost.push_back(loop);
      });
      return outermost;
    };
    bool collapsed = false;
    for (scf::ParallelOp loop : outermostLoops())
      collapsed |= collapseToThreeDimensions(loop);
    // The collapsed bounds are arithmetic on constants: fold it, so that the
    // tile sizes see static trip counts.
    if (collapsed)
      (void)applyPatternsGreedily(getOperation(), FrozenRewritePatternSet());
    for (scf::ParallelOp loop : outermostLoops())
      scf::tileParallelLoop(loop, blockTileSizes(loop, threads),
                            /*noMinMaxBounds=*/true);
  }
};

} // namespace
} // namespace dgc
