//===- GpuBlockReductions.cpp - One thread block per reduced row ----------===//
//
// Mapped as plain parallel loops, a reduction is one thread's sequential
// walk along its row: 256 threads for the 256 rows of a canvas, each reading
// a whole vocabulary row alone. Here a block of threads shares each row:
//
//   partial = identity
//   for r = tid; r < R; r += T:  partial = body(inputs at r, partial)
//   smem[tid] = partial; tree-combine smem over log2(T) steps
//   thread 0: out = combine(out, smem[0])
//
// which needs the body to be `combine(out, f(inputs))` with an associative,
// commutative combine of known identity: addf (0) or maximumf / maxnumf
// (-inf).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"

#include <limits>

namespace dgc {
#define GEN_PASS_DEF_DGGPUBLOCKREDUCTIONS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// The combine of a reduction body `yield combine(out, f(...))`, or null.
Operation *matchCombine(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumLoops() < 2 || linalg::isaContractionOpInterface(op))
    return nullptr;
  auto iterators = op.getIteratorTypesArray();
  for (size_t i = 0; i + 1 < iterators.size(); ++i)
    if (iterators[i] != utils::IteratorType::parallel)
      return nullptr;
  if (iterators.back() != utils::IteratorType::reduction)
    return nullptr;
  Value out = op.getDpsInits()[0];
  if (!cast<MemRefType>(out.getType()).getElementType().isF32())
    return nullptr;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return nullptr;
  Block &body = op.getRegion().front();
  BlockArgument acc = body.getArguments().back();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *combine = yield.getOperand(0).getDefiningOp();
  if (!combine || !isa<arith::AddFOp, arith::MaximumFOp, arith::MaxNumFOp>(
                      combine))
    return nullptr;
  // The accumulator is read once, by the combine, as one of its operands.
  if (!acc.hasOneUse() || acc.getUses().begin()->getOwner() != combine)
    return nullptr;
  return combine;
}

Value identityOf(OpBuilder &b, Location loc, Operation *combine) {
  double value = isa<arith::AddFOp>(combine)
                     ? 0.0
                     : -std::numeric_limits<double>::infinity();
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// `combine` applied to `x` and `y` (a fresh op of the same kind).
Value combineWith(OpBuilder &b, Location loc, Operation *combine, Value x,
                  Value y) {
  OperationState state(loc, combine->getName());
  state.addOperands({x, y});
  state.addTypes(b.getF32Type());
  state.addAttributes(combine->getAttrs());
  return b.create(state)->getResult(0);
}

struct GpuBlockReductions
    : impl::DgGpuBlockReductionsBase<GpuBlockReductions> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 32 || threads > 1024 || (threads & (threads - 1))) {
      getOperation().emitError("threads must be a power of two in [32, 1024]");
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Operation *>> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (Operation *combine = matchCombine(op))
        found.push_back({op, combine});
    });
    for (auto [op, combine] : found)
      rewrite(op, combine);
  }

  void rewrite(linalg::GenericOp op, Operation *combine) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto c = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    unsigned loops = op.getNumLoops();
    // Each loop's trip count: the size of an operand dimension it indexes.
    SmallVector<Value> sizes(loops);
    for (auto [operand, map] :
         llvm::zip(op->getOperands(), op.getIndexingMapsArray()))
      for (unsigned r = 0; r < map.getNumResults(); ++r)
        if (!sizes[map.getDimPosition(r)]) {
          int64_t size = cast<MemRefType>(operand.getType()).getDimSize(r);
          sizes[map.getDimPosition(r)] =
              ShapedType::isDynamic(size)
                  ? memref::DimOp::create(b, loc, operand, r).getResult()
                  : arith::ConstantIndexOp::create(b, loc, size).getResult();
        }
    Value rows = c(1);
    for (unsigned d = 0; d + 1 < loops; ++d)
      rows = arith::MulIOp::create(b, loc, rows, sizes[d]);
    // A short static row needs fewer threads.
    int64_t blockSize = threads;
    if (auto length = getConstantIntValue(sizes.back()))
      while (blockSize > 32 && blockSize / 2 >= *length)
        blockSize /= 2;

    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    auto scratch =
        MemRefType::get({blockSize}, b.getF32Type(), AffineMap(), workgroup);
    auto launch = gpu::LaunchOp::create(b, loc, rows, c(1), c(1), c(blockSize),
                                        c(1), c(1), nullptr, nullptr,
                                        ValueRange(), TypeRange{scratch});
    b.setInsertionPointToStart(&launch.getBody().front());
    Value tid = launch.getThreadIds().x;
    Value smem = launch.getWorkgroupAttributions()[0];

    // This block's row: the parallel loop indices, the last fastest.
    SmallVector<Value> iv(loops);
    Value row = launch.getBlockIds().x;
    for (int d = static_cast<int>(loops) - 2; d >= 0; --d) {
      iv[d] = arith::RemUIOp::create(b, loc, row, sizes[d]);
      row = arith::DivUIOp::create(b, loc, row, sizes[d]);
    }
    auto indicesOf = [&](unsigned operand) {
      AffineMap map = op.getIndexingMapsArray()[operand];
      SmallVector<Value> out;
      for (unsigned r = 0; r < map.getNumResults(); ++r)
        out.push_back(iv[map.getDimPosition(r)]);
      return out;
    };

    // Each thread folds its strided share of the row with the body.
    Block &body = op.getRegion().front();
    auto walk = scf::ForOp::create(b, loc, tid, sizes.back(), c(blockSize),
                                   ValueRange{identityOf(b, loc, combine)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(walk.getBody());
      iv.back() = walk.getInductionVar();
      IRMapping map;
      for (unsigned i = 0; i < op.getNumDpsInputs(); ++i)
        map.map(body.getArgument(i),
                memref::LoadOp::create(b, loc, op.getDpsInputs()[i],
                                       indicesOf(i)));
      map.map(body.getArguments().back(), walk.getRegionIterArgs()[0]);
      for (Operation &inner : body.without_terminator())
        b.clone(inner, map);
      scf::YieldOp::create(
          b, loc, map.lookup(body.getTerminator()->getOperand(0)));
    }

    // Combine the threads' partials in shared memory.
    memref::StoreOp::create(b, loc, walk.getResult(0), smem, ValueRange{tid});
    gpu::BarrierOp::create(b, loc);
    for (int64_t stride = blockSize / 2; stride >= 1; stride /= 2) {
      Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           tid, c(stride));
      auto step = scf::IfOp::create(b, loc, active);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&step.getThenRegion().front());
        Value other = arith::AddIOp::create(b, loc, tid, c(stride));
        Value x = memref::LoadOp::create(b, loc, smem, ValueRange{tid});
        Value y = memref::LoadOp::create(b, loc, smem, ValueRange{other});
        memref::StoreOp::create(b, loc, combineWith(b, loc, combine, x, y),
                                smem, ValueRange{tid});
      }
      gpu::BarrierOp::create(b, loc);
    }
    // Thread 0 adds the row's total to what the output held.
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                        c(0));
    auto store = scf::IfOp::create(b, loc, first);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      unsigned outIndex = op.getNumDpsInputs();
      Value out = op.getDpsInits()[0];
      Value old = memref::LoadOp::create(b, loc, out, indicesOf(outIndex));
      Value total = memref::LoadOp::create(b, loc, smem, ValueRange{c(0)});
      memref::StoreOp::create(b, loc, combineWith(b, loc, combine, old, total),
                              out, indicesOf(outIndex));
    }
    gpu::TerminatorOp::create(b, loc);
    op.erase();
  }
};

} // namespace
} // namespace dgc
