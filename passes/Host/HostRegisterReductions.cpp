//===- HostRegisterReductions.cpp - Row reductions kept in registers ------===//
//
// convert-linalg-to-loops writes a reduction's outputs back to memory on
// every iteration of its reduction loop: LLVM cannot keep them in registers,
// as the outputs may alias the inputs as far as it knows. A row's four
// softmax statistics over a vocabulary of 8192 were then four loads and
// four stores per element, and when threads shared out the rows, rows whose
// outputs share a cache line ping-ponged it between the cores (the sampler's
// statistics ran 13 times longer on two threads than on one).
//
// Here a generic whose loops are parallel but for the innermost, a
// reduction its outputs are not indexed by, becomes an scf.parallel over
// the outer loops around an scf.for over the innermost that carries the
// outputs' values: each output is read once before the loop and written
// once after it. Generics dg-host-vectorize-rows takes (reductions of one
// output by max, min or sum) are in lanes before this runs.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTREGISTERREDUCTIONS
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

bool qualifies(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || !outerLoopsParallel(op) ||
      op.getNumDpsInits() == 0 || op->getParentOfType<gpu::LaunchOp>())
    return false;
  if (op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return false;
  unsigned inner = op.getNumLoops() - 1;
  for (OpOperand &operand : op->getOpOperands())
    if (!isa<MemRefType>(operand.get().getType()) ||
        !loopsOrZeros(op.getMatchingIndexingMap(&operand)))
      return false;
  // Outputs are read once and written once: no input may be one of them.
  for (OpOperand &init : op.getDpsInitsMutable()) {
    if (op.getMatchingIndexingMap(&init).isFunctionOfDim(inner))
      return false;
    for (Value input : op.getDpsInputs())
      if (viewRoot(input) == viewRoot(init.get()))
        return false;
  }
  return llvm::all_of(op.getRegion().front().without_terminator(),
                      [](Operation &inner) {
                        return inner.getNumRegions() == 0;
                      });
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

void rewrite(linalg::GenericOp op) {
  ImplicitLocOpBuilder b(op.getLoc(), op);
  SmallVector<Value> sizes = loopSizes(b, b.getLoc(), op);
  unsigned inner = op.getNumLoops() - 1;
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);

  auto row = [&](OpBuilder &nested, Location loc, ValueRange outer) {
    ImplicitLocOpBuilder rb(loc, nested);
    SmallVector<Value> loops(outer.begin(), outer.end());
    loops.push_back(Value());
    SmallVector<Value> starts;
    for (OpOperand &init : op.getDpsInitsMutable())
      starts.push_back(
          memref::LoadOp::create(rb, init.get(), indices(rb, op, init, loops)));
    auto loop = scf::ForOp::create(
        rb, zero, sizes[inner], one, starts,
        [&](OpBuilder &forBuilder, Location forLoc, Value j, ValueRange acc) {
          loops.back() = j;
          scf::YieldOp::create(forBuilder, forLoc,
                               inlineBodyAt(forBuilder, forLoc, op, loops,
                                            Value(), Value(), acc));
        });
    loops.back() = Value();
    for (auto [init, value] :
         llvm::zip(op.getDpsInitsMutable(), loop.getResults()))
      memref::StoreOp::create(rb, value, init.get(),
                              indices(rb, op, init, loops));
  };

  if (inner == 0) {
    row(b, b.getLoc(), ValueRange());
  } else {
    SmallVector<Value> lower(inner, zero), steps(inner, one);
    scf::ParallelOp::create(b, lower, ArrayRef(sizes).take_front(inner), steps,
                            row);
  }
  op.erase();
}

struct HostRegisterReductions
    : impl::DgHostRegisterReductionsBase<HostRegisterReductions> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (qualifies(op))
        found.push_back(op);
    });
    for (linalg::GenericOp op : found)
      rewrite(op);
  }
};

} // namespace
} // namespace dgc
