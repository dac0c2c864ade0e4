//===- RegisterReductions.cpp - Reductions that carry outputs in registers ===//
//
// convert-linalg-to-loops and convert-linalg-to-parallel-loops write a
// reduction's outputs back to memory on every iteration of its reduction
// loops: LLVM cannot keep them in registers, as the outputs may alias the
// inputs as far as it knows. On the host a row's four softmax statistics
// were then four loads and four stores per element, and rows whose outputs
// share a cache line ping-ponged it between cores. On the GPU a thread that
// counts an expert's rows over all 2048 choices of a canvas, or ranks one
// choice among them, waited on a store and a load of the same global word
// for each one: the MoE dispatch's one-block and few-block kernels took
// about a tenth of the H200 step (docs/performance.md).
//
// Here a generic whose loops are parallel ones and then reductions, whose
// outputs are indexed by the parallel loops alone, becomes an scf.parallel
// over the parallel loops around scf.for loops over the reductions that
// carry the outputs' values: each output is read once before them (or
// starts from the constant a fill left in it, which then goes) and written
// once after them. The body is cloned as it is, and the loops run in
// linalg's order, so no result changes by a bit.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace dgc {
#define GEN_PASS_DEF_DGREGISTERREDUCTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Whether each result of `map` is a loop or the constant 0.
bool loopsOrZeros(AffineMap map) {
  return llvm::all_of(map.getResults(), [](AffineExpr e) {
    auto constant = dyn_cast<AffineConstantExpr>(e);
    return isa<AffineDimExpr>(e) || (constant && constant.getValue() == 0);
  });
}

/// The number of `op`'s leading parallel loops, if every loop after them is
/// a reduction, there is a parallel one where `parallelOnly` asks for it,
/// and `op` qualifies otherwise.
std::optional<unsigned> parallelLoops(linalg::GenericOp op, bool parallelOnly) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() == 0 ||
      op->getParentOfType<gpu::LaunchOp>())
    return std::nullopt;
  std::optional<unsigned> found = parallelLoopsBeforeReductions(op);
  if (!found || (parallelOnly && *found == 0))
    return std::nullopt;
  unsigned parallel = *found, loops = op.getNumLoops();
  for (OpOperand &operand : op->getOpOperands())
    if (!isa<MemRefType>(operand.get().getType()) ||
        !loopsOrZeros(op.getMatchingIndexingMap(&operand)))
      return std::nullopt;
  // Each output element belongs to one parallel iteration, which reads it
  // once and writes it once: no reduction loop indexes it, every parallel
  // loop but those of one iteration does, and no input is one of them.
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<Value> roots;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    for (unsigned d = 0; d < loops; ++d) {
      bool indexes = map.isFunctionOfDim(d);
      if (d >= parallel ? indexes : !indexes && ranges[d] != 1)
        return std::nullopt;
    }
    roots.push_back(viewRoot(init.get()));
  }
  for (Value input : op.getDpsInputs())
    if (llvm::is_contained(roots, viewRoot(input)))
      return std::nullopt;
  if (llvm::SmallPtrSet<Value, 4>(roots.begin(), roots.end()).size() !=
      roots.size())
    return std::nullopt;
  if (!llvm::all_of(
          op.getRegion().front().without_terminator(),
          [](Operation &inner) { return inner.getNumRegions() == 0; }))
    return std::nullopt;
  return parallel;
}

/// Indices into `operand` with the loops at `loops`.
SmallVector<Value> indices(ImplicitLocOpBuilder &b, linalg::GenericOp op,
                           OpOperand &operand, ArrayRef<Value> loops) {
  SmallVector<Value> result;
  for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
    result.push_back(isa<AffineDimExpr>(e)
                         ? loops[cast<AffineDimExpr>(e).getPosition()]
                         : arith::ConstantIndexOp::create(b, 0).getResult());
  return result;
}

void rewrite(linalg::GenericOp op, unsigned parallel) {
  // Taken before anything is built: this erases the fills it finds.
  SmallVector<std::optional<TypedAttr>> constantStarts;
  for (Value init : op.getDpsInits())
    constantStarts.push_back(takeConstantInit(op, init));

  ImplicitLocOpBuilder b(op.getLoc(), op);
  SmallVector<Value> sizes = loopSizes(b, b.getLoc(), op);
  unsigned loopCount = op.getNumLoops();
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);

  auto element = [&](OpBuilder &nested, Location loc, ValueRange outer) {
    ImplicitLocOpBuilder eb(loc, nested);
    SmallVector<Value> loops(outer.begin(), outer.end());
    loops.resize(loopCount);
    SmallVector<Value> starts;
    for (auto [init, constant] :
         llvm::zip(op.getDpsInitsMutable(), constantStarts))
      starts.push_back(
          constant ? Value(arith::ConstantOp::create(eb, *constant))
                   : Value(memref::LoadOp::create(
                         eb, init.get(), indices(eb, op, init, loops))));
    unsigned reductions = loopCount - parallel;
    scf::LoopNest nest = scf::buildLoopNest(
        eb, loc, SmallVector<Value>(reductions, zero),
        ArrayRef(sizes).drop_front(parallel),
        SmallVector<Value>(reductions, one), starts,
        [&](OpBuilder &inner, Location innerLoc, ValueRange ivs,
            ValueRange acc) -> scf::ValueVector {
          llvm::copy(ivs, loops.begin() + parallel);
          return inlineBodyAt(inner, innerLoc, op, loops, Value(), Value(),
                              acc);
        });
    for (auto [init, value] : llvm::zip(op.getDpsInitsMutable(), nest.results))
      memref::StoreOp::create(eb, value, init.get(),
                              indices(eb, op, init, loops));
  };

  if (parallel == 0) {
    element(b, b.getLoc(), ValueRange());
  } else {
    SmallVector<Value> lower(parallel, zero), steps(parallel, one);
    scf::ParallelOp::create(b, lower, ArrayRef(sizes).take_front(parallel),
                            steps, element);
  }
  op.erase();
}

struct RegisterReductions : impl::DgRegisterReductionsBase<RegisterReductions> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, unsigned>> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<unsigned> parallel = parallelLoops(op, parallelOnly))
        found.push_back({op, *parallel});
    });
    for (auto [op, parallel] : found)
      rewrite(op, parallel);
  }
};

} // namespace
} // namespace dgc
