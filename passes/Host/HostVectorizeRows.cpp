//===- HostVectorizeRows.cpp - Elementwise ops and row maxima in lanes ----===//
//
// LLVM vectorises few of the host's elementwise loops and row reductions:
// their buffers may alias as far as it knows (a softmax writes in place), so
// it would need run-time checks, and an outlined nest only sees its strides
// as arguments. Here a generic whose innermost loop walks the last,
// contiguous dimension of its operands runs that loop 8 lanes at a time:
//
//   scf.parallel over the outer loops:
//     for j in steps of 8:  each operand a vector load (or one element,
//                           broadcast, where j does not index it), the body
//                           on vector<8x..>, the results stored as vectors
//                           (a reduction: folded into a vector accumulator)
//     for the last j:       the body on scalars (a reduction: one more
//                           vector step, masked; then the lanes folded and
//                           the output stored once)
//
// Reductions qualify when their one output is a max, a min or an f32 sum.
// A sum's element j always lands in lane j mod 8, the last elements in one
// masked step, and the lanes fold in one fixed order: a row sums the same
// whatever its length was padded to, so a row of attention scores does not
// depend on the rows batched with it (masked keys add exact zeros). The
// order differs from a scalar loop's, as in the GEMM tiles. The body's ops
// must be elementwise arith and math ops on 32-bit values, without
// linalg.index.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTVECTORIZEROWS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

constexpr int64_t kLanes = 8;

bool is32Bit(Type type) {
  return type.isF32() || type.isInteger(32) || type.isInteger(1);
}

/// The reduction's combining op, if `op` reduces over its innermost loop
/// into one output by a max, a min or an f32 sum of `out` and a value
/// computed from the inputs.
Operation *combinerOf(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1)
    return nullptr;
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArguments().back();
  Operation *combine = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!combine || combine->getNumOperands() != 2 || !out.hasOneUse() ||
      out.getUses().begin()->getOwner() != combine)
    return nullptr;
  return isa<arith::MaximumFOp, arith::MinimumFOp, arith::AddFOp>(combine)
             ? combine
             : nullptr;
}

bool qualifies(linalg::GenericOp op, Operation *&combine) {
  if (!op.hasPureBufferSemantics() || !outerLoopsParallel(op))
    return false;
  unsigned inner = op.getNumLoops() - 1;
  combine = nullptr;
  if (op.getIteratorTypesArray().back() == utils::IteratorType::reduction &&
      !(combine = combinerOf(op)))
    return false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!type ||
        !(type.getElementType().isF32() ||
          type.getElementType().isInteger(32)) ||
        !map.isProjectedPermutation())
      return false;
    // The innermost loop indexes the last, contiguous dimension or nothing;
    // an output is indexed by it unless it is the reduction's.
    for (unsigned r = 0; r < map.getNumResults(); ++r)
      if (map.getDimPosition(r) == inner &&
          (r + 1 != map.getNumResults() || !type.isLastDimUnitStride()))
        return false;
    bool indexed = map.getNumResults() > 0 &&
                   map.getDimPosition(map.getNumResults() - 1) == inner;
    if (op.isDpsInit(&operand) && indexed == bool(combine))
      return false;
  }
  for (Operation &inner : op.getRegion().front().without_terminator()) {
    if (!inner.hasTrait<OpTrait::Elementwise>() || inner.getNumRegions() ||
        !isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()))
      return false;
    for (Type type : inner.getResultTypes())
      if (!is32Bit(type))
        return false;
    for (Value operand : inner.getOperands())
      if (!is32Bit(operand.getType()))
        return false;
  }
  return true;
}

/// Emits the loops of one generic in place of it.
class RowBuilder {
public:
  RowBuilder(linalg::GenericOp op, Operation *combine)
      : op(op), combine(combine), inner(op.getNumLoops() - 1) {}

  void build(ImplicitLocOpBuilder &b) {
    SmallVector<Value> sizes = loopSizes(b, b.getLoc(), op);
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    auto row = [&](OpBuilder &nested, Location loc, ValueRange outer) {
      ImplicitLocOpBuilder ib(loc, nested);
      emitRow(ib, outer, sizes[inner]);
    };
    if (inner == 0) {
      row(b, b.getLoc(), ValueRange());
    } else {
      SmallVector<Value> lower(inner, zero), steps(inner, one);
      scf::ParallelOp::create(b, lower, ArrayRef(sizes).take_front(inner),
                              steps, row);
    }
    op.erase();
  }

private:
  /// Indices of `operand` with the loops at `outer` and `j`.
  SmallVector<Value> indices(ImplicitLocOpBuilder &b, OpOperand &operand,
                             ValueRange outer, Value j) {
    SmallVector<Value> result;
    for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults()) {
      unsigned d = cast<AffineDimExpr>(e).getPosition();
      result.push_back(d == inner ? j : outer[d]);
    }
    return result;
  }

  bool usesInner(OpOperand &operand) {
    return op.getMatchingIndexingMap(&operand).isFunctionOfDim(inner);
  }

  /// The body at `j`, on vectors if `vector`; returns the values yielded.
  SmallVector<Value> body(ImplicitLocOpBuilder &b, ValueRange outer, Value j,
                          bool vector, Value accumulator,
                          Value mask = Value()) {
    Block &block = op.getRegion().front();
    IRMapping map;
    auto widen = [&](Value v) -> Value {
      if (!vector || isa<VectorType>(v.getType()))
        return v;
      return vector::BroadcastOp::create(
          b, VectorType::get({kLanes}, v.getType()), v);
    };
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = block.getArgument(operand.getOperandNumber());
      if (combine && op.isDpsInit(&operand)) {
        map.map(arg, accumulator);
        continue;
      }
      if (arg.use_empty())
        continue;
      SmallVector<Value> at = indices(b, operand, outer, j);
      Type element = getElementTypeOrSelf(operand.get().getType());
      auto type = VectorType::get({kLanes}, element);
      Value value;
      if (!vector || !usesInner(operand))
        value = memref::LoadOp::create(b, operand.get(), at);
      else if (!mask)
        value = vector::LoadOp::create(b, type, operand.get(), at);
      else
        value = vector::MaskedLoadOp::create(
            b, type, operand.get(), at, mask,
            arith::ConstantOp::create(b, type, b.getZeroAttr(type)));
      map.map(arg, widen(value));
    }
    for (Operation &inner : block.without_terminator()) {
      // Values from above the generic are broadcast once.
      for (Value v : inner.getOperands())
        if (!map.contains(v))
          map.map(v, widen(v));
      Operation *clone = b.clone(inner, map);
      if (vector)
        for (OpResult result : clone->getResults())
          result.setType(VectorType::get({kLanes}, result.getType()));
    }
    SmallVector<Value> yielded;
    for (Value v : block.getTerminator()->getOperands())
      yielded.push_back(widen(map.lookupOrDefault(v)));
    return yielded;
  }

  void emitRow(ImplicitLocOpBuilder &b, ValueRange outer, Value length) {
    Value step = arith::ConstantIndexOp::create(b, kLanes);
    Value full = arith::SubIOp::create(b, length,
                                       arith::RemUIOp::create(b, length, step));
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    if (!combine) {
      auto each = [&](bool vector) {
        return
            [&, vector](OpBuilder &nested, Location loc, Value j, ValueRange) {
              ImplicitLocOpBuilder ib(loc, nested);
              SmallVector<Value> results = body(ib, outer, j, vector, Value());
              for (auto [init, value] :
                   llvm::zip(op.getDpsInitsMutable(), results)) {
                SmallVector<Value> at = indices(ib, init, outer, j);
                if (vector)
                  vector::StoreOp::create(ib, value, init.get(), at);
                else
                  memref::StoreOp::create(ib, value, init.get(), at);
              }
              scf::YieldOp::create(ib);
            };
      };
      scf::ForOp::create(b, zero, full, step, ValueRange(), each(true));
      scf::ForOp::create(b, full, length, one, ValueRange(), each(false));
      return;
    }
    // A max or min: every lane starts from the output. A sum: from zero,
    // the output added first when the lanes fold.
    OpOperand &init = op.getDpsInitsMutable()[0];
    SmallVector<Value> at = indices(b, init, outer, Value());
    Value start = memref::LoadOp::create(b, init.get(), at);
    bool sum = isa<arith::AddFOp>(combine);
    auto laneType = VectorType::get({kLanes}, start.getType());
    Value lanes =
        sum ? arith::ConstantOp::create(b, laneType, b.getZeroAttr(laneType))
                  .getResult()
            : vector::BroadcastOp::create(b, laneType, start).getResult();
    auto vectorLoop = scf::ForOp::create(
        b, zero, full, step, ValueRange{lanes},
        [&](OpBuilder &nested, Location loc, Value j, ValueRange acc) {
          ImplicitLocOpBuilder ib(loc, nested);
          scf::YieldOp::create(ib, body(ib, outer, j, true, acc[0]));
        });
    // The last elements in one more step, the lanes past the row masked.
    Value mask = vector::CreateMaskOp::create(
        b, VectorType::get({kLanes}, b.getI1Type()),
        ValueRange{arith::SubIOp::create(b, length, full)});
    Value acc = vectorLoop.getResult(0);
    Value last = body(b, outer, full, true, acc, mask)[0];
    acc = arith::SelectOp::create(b, mask, last, acc);
    Value folded =
        sum ? vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc,
                                          start)
                  .getResult()
            : vector::ReductionOp::create(
                  b,
                  isa<arith::MaximumFOp>(combine)
                      ? vector::CombiningKind::MAXIMUMF
                      : vector::CombiningKind::MINIMUMF,
                  acc)
                  .getResult();
    memref::StoreOp::create(b, folded, init.get(), at);
  }

  linalg::GenericOp op;
  Operation *combine;
  unsigned inner;
};

struct HostVectorizeRows : impl::DgHostVectorizeRowsBase<HostVectorizeRows> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, Operation *>> found;
    getOperation().walk([&](linalg::GenericOp op) {
      Operation *combine;
      if (qualifies(op, combine))
        found.push_back({op, combine});
    });
    for (auto [op, combine] : found) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      RowBuilder(op, combine).build(b);
    }
  }
};

} // namespace
} // namespace dgc
