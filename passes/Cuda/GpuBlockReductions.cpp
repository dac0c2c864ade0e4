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
// (`out` read there is the constant a fill or a copy of one left in it, when
// that is what it holds: bufferization copies a shared filled init into each
// reduction's output, a kernel each, which then go.)
//
// which needs the body to be `combine(out, f(inputs))` with an associative,
// commutative combine of known identity: addf (0) or maximumf / maxnumf
// (-inf); a best-of-rows (argmax, a top-k step), whose (value, index)
// pairs combine in (value descending, index ascending) order; or the
// sampler's row statistics, whose states merge by rescaling to the larger
// max (RowStatistics.h).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"
#include "passes/Utils/RowStatistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

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
  if (op.getNumDpsInits() != 1 || !isRowReduction(op))
    return nullptr;
  Value out = op.getDpsInits()[0];
  if (!cast<MemRefType>(out.getType()).getElementType().isF32())
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

/// How partial results combine: one f32 under an arith combine, the
/// (value, index) pair of a best-of-rows, or row statistics.
struct Combiner {
  Operation *combine = nullptr; // null: best of rows or row statistics
  bool rowStatistics = false;

  SmallVector<Value> identity(OpBuilder &b, Location loc) const {
    if (combine)
      return {identityOf(b, loc, combine)};
    if (rowStatistics)
      return llvm::map_to_vector(
          rowStatisticsIdentity(b), [&](TypedAttr value) -> Value {
            return arith::ConstantOp::create(b, loc, value);
          });
    return {arith::ConstantOp::create(
                b, loc,
                b.getF32FloatAttr(-std::numeric_limits<float>::infinity())),
            arith::ConstantOp::create(
                b, loc,
                b.getI32IntegerAttr(std::numeric_limits<int32_t>::max()))};
  }
  SmallVector<Value> apply(OpBuilder &b, Location loc, ValueRange x,
                           ValueRange y) const {
    if (combine)
      return {combineWith(b, loc, combine, x[0], y[0])};
    if (rowStatistics)
      return combineRowStatistics(b, loc, x, y);
    Value better = isBetterPick(b, loc, x[0], x[1], y[0], y[1]);
    return {arith::SelectOp::create(b, loc, better, y[0], x[0]),
            arith::SelectOp::create(b, loc, better, y[1], x[1])};
  }
};

struct GpuBlockReductions
    : impl::DgGpuBlockReductionsBase<GpuBlockReductions> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 32 || threads > 1024 || (threads & (threads - 1))) {
      getOperation().emitError("threads must be a power of two in [32, 1024]");
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Combiner>> found;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (isBestOfRowsReduction(op))
        found.push_back({op, Combiner{}});
      else if (isRowStatisticsReduction(op))
        found.push_back({op, Combiner{nullptr, /*rowStatistics=*/true}});
      else if (Operation *combine = matchCombine(op); combine && !isShort(op))
        found.push_back({op, Combiner{combine}});
    });
    for (auto &[op, combiner] : found)
      rewrite(op, combiner);
  }

  /// A row short enough that one thread's loop beats a block of threads.
  bool isShort(linalg::GenericOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    return !ranges.empty() && !ShapedType::isDynamic(ranges.back()) &&
           ranges.back() <= shortRows;
  }

  void rewrite(linalg::GenericOp op, const Combiner &combiner) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto c = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    unsigned loops = op.getNumLoops();
    unsigned outputs = op.getNumDpsInits();
    // An output that starts as a constant (a fill, or a copy of one) takes
    // it from here: no fill or copy kernel before this one.
    SmallVector<std::optional<TypedAttr>> startsAs(outputs);
    for (unsigned i = 0; i < outputs; ++i)
      startsAs[i] = takeConstantInit(op, op.getDpsInits()[i]);
    SmallVector<Value> sizes = loopSizes(b, loc, op);
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
    SmallVector<Type> scratch;
    for (Value out : op.getDpsInits())
      scratch.push_back(MemRefType::get(
          {blockSize}, cast<MemRefType>(out.getType()).getElementType(),
          AffineMap(), workgroup));
    auto launch = gpu::LaunchOp::create(b, loc, rows, c(1), c(1), c(blockSize),
                                        c(1), c(1), nullptr, nullptr,
                                        ValueRange(), scratch);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value tid = launch.getThreadIds().x;
    ArrayRef<BlockArgument> smem = launch.getWorkgroupAttributions();

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
    unsigned inputs = op.getNumDpsInputs();

    // Each thread folds its strided share of the row with the body.
    auto walk = scf::ForOp::create(b, loc, tid, sizes.back(), c(blockSize),
                                   combiner.identity(b, loc));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(walk.getBody());
      iv.back() = walk.getInductionVar();
      scf::YieldOp::create(b, loc,
                           inlineBodyAt(b, loc, op, iv, Value(), Value(),
                                        walk.getRegionIterArgs()));
    }

    // Combine the threads' partials in shared memory.
    for (unsigned i = 0; i < outputs; ++i)
      memref::StoreOp::create(b, loc, walk.getResult(i), smem[i],
                              ValueRange{tid});
    gpu::BarrierOp::create(b, loc);
    auto loadAll = [&](Value at) {
      SmallVector<Value> values;
      for (unsigned i = 0; i < outputs; ++i)
        values.push_back(memref::LoadOp::create(b, loc, smem[i], at));
      return values;
    };
    for (int64_t stride = blockSize / 2; stride >= 1; stride /= 2) {
      Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           tid, c(stride));
      auto step = scf::IfOp::create(b, loc, active);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&step.getThenRegion().front());
        Value other = arith::AddIOp::create(b, loc, tid, c(stride));
        SmallVector<Value> merged =
            combiner.apply(b, loc, loadAll(tid), loadAll(other));
        for (unsigned i = 0; i < outputs; ++i)
          memref::StoreOp::create(b, loc, merged[i], smem[i], ValueRange{tid});
      }
      gpu::BarrierOp::create(b, loc);
    }
    // Thread 0 folds the row's result into what the outputs held.
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                        c(0));
    auto store = scf::IfOp::create(b, loc, first);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      SmallVector<Value> old;
      for (unsigned i = 0; i < outputs; ++i)
        old.push_back(
            startsAs[i]
                ? arith::ConstantOp::create(b, loc, *startsAs[i]).getResult()
                : memref::LoadOp::create(b, loc, op.getDpsInits()[i],
                                         indicesOf(inputs + i))
                      .getResult());
      SmallVector<Value> total = combiner.apply(b, loc, old, loadAll(c(0)));
      for (unsigned i = 0; i < outputs; ++i)
        memref::StoreOp::create(b, loc, total[i], op.getDpsInits()[i],
                                indicesOf(inputs + i));
    }
    gpu::TerminatorOp::create(b, loc);
    op.erase();
  }
};

} // namespace
} // namespace dgc
