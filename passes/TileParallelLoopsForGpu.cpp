//===- TileParallelLoopsForGpu.cpp - Blocks of threads for parallel loops -===//
//
// convert-parallel-loops-to-gpu turns an outer scf.parallel into the grid and
// a directly nested one into the block; a loop straight from linalg has no
// nested one, and its trip counts may exceed the block limit. Tiling with
// bound checks (no min/max bounds, which the mapping cannot size) gives
// every outermost loop that two-level form.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace dgc {
#define GEN_PASS_DEF_DGTILEPARALLELLOOPSFORGPU
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Tile sizes giving a block of at most `threads`: the innermost dimensions
/// take what their static trip counts use, a dynamic one takes the rest.
SmallVector<int64_t> blockTileSizes(scf::ParallelOp loop, int64_t threads) {
  unsigned rank = loop.getNumLoops();
  SmallVector<int64_t> sizes(rank, 1);
  int64_t left = threads;
  for (int d = static_cast<int>(rank) - 1; d >= 0 && left > 1; --d) {
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[d]);
    std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[d]);
    std::optional<int64_t> step = getConstantIntValue(loop.getStep()[d]);
    int64_t size = left;
    if (lb && ub && step && *step > 0)
      size = std::max<int64_t>(1, std::min(left, (*ub - *lb + *step - 1) / *step));
    sizes[d] = size;
    left /= size;
  }
  return sizes;
}

struct TileParallelLoopsForGpu
    : impl::DgTileParallelLoopsForGpuBase<TileParallelLoopsForGpu> {
  using Base::Base;
  void runOnOperation() override {
    if (threads < 1 || threads > 1024) {
      getOperation().emitError("threads must be in [1, 1024]");
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      // Inside sequential loops too: gpu-map-parallel-loops maps those
      // (one launch per iteration).
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost)
      scf::tileParallelLoop(loop, blockTileSizes(loop, threads),
                            /*noMinMaxBounds=*/true);
  }
};

} // namespace
} // namespace dgc
