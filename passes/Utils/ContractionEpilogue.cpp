//===- ContractionEpilogue.cpp - What a GEMM kernel can absorb ------------===//

#include "passes/Utils/ContractionEpilogue.h"

#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace dgc {
namespace {

bool isAllocation(Value v) {
  return v.getDefiningOp<memref::AllocOp>() || v.getDefiningOp<gpu::AllocOp>();
}

bool isDealloc(Operation *op) {
  return isa<memref::DeallocOp, gpu::DeallocOp>(op);
}

struct KnownConstant {
  TypedAttr value;
  Operation *initializer; // the fill or copy that made it
  Value copiedFrom;       // the copy's source, if a copy
};

/// What the allocation `target` holds just before `before`, when the last
/// op to touch it is a constant fill of it or a copy into it from such a
/// buffer.
std::optional<KnownConstant> constantBefore(Operation *before, Value target) {
  if (viewRoot(target) != target || !isAllocation(target))
    return std::nullopt;
  for (Operation *it = before->getPrevNode(); it; it = it->getPrevNode()) {
    if (!touchesBuffer(it, target))
      continue;
    if (auto fill = dyn_cast<linalg::FillOp>(it)) {
      TypedAttr value;
      if (fill.getDpsInits()[0] != target ||
          !matchPattern(fill.getDpsInputs()[0], m_Constant(&value)) ||
          !isa<FloatAttr, IntegerAttr>(value))
        return std::nullopt;
      return KnownConstant{value, fill, Value()};
    }
    Value source;
    if (auto copy = dyn_cast<linalg::CopyOp>(it);
        copy && copy.getDpsInits()[0] == target)
      source = copy.getDpsInputs()[0];
    if (auto copy = dyn_cast<memref::CopyOp>(it);
        copy && copy.getTarget() == target)
      source = copy.getSource();
    if (!source)
      return std::nullopt;
    std::optional<KnownConstant> known = constantBefore(it, source);
    if (!known)
      return std::nullopt;
    return KnownConstant{known->value, it, source};
  }
  return std::nullopt;
}

} // namespace

std::optional<double> foldConstantInit(linalg::GenericOp op) {
  Value c = op.getDpsInits()[0];
  std::optional<KnownConstant> known = constantBefore(op, c);
  if (!known || !isa<FloatAttr>(known->value))
    return std::nullopt;
  return cast<FloatAttr>(*takeConstantInit(op, c)).getValueAsDouble();
}

std::optional<TypedAttr> takeConstantInit(Operation *op, Value init) {
  // `op` must not read what it overwrites through another operand.
  if (llvm::count_if(op->getOperands(), [&](Value operand) {
        return isa<MemRefType>(operand.getType()) &&
               viewRoot(operand) == viewRoot(init);
      }) != 1)
    return std::nullopt;
  std::optional<KnownConstant> known = constantBefore(op, init);
  if (!known)
    return std::nullopt;
  // Nothing read `init` between its initializer and op, which writes it all.
  known->initializer->erase();
  Value source = known->copiedFrom;
  // A fill that only fed copies folded away is dead too.
  if (source && isAllocation(source)) {
    SmallVector<Operation *> fills;
    for (Operation *user : source.getUsers()) {
      if (isa<linalg::FillOp>(user))
        fills.push_back(user);
      else if (!isDealloc(user))
        return known->value;
    }
    for (Operation *fill : fills)
      fill->erase();
  }
  return known->value;
}

linalg::GenericOp findEpilogue(linalg::GenericOp op, Operation *alsoReadsC) {
  Value c = op.getDpsInits()[0];
  if (viewRoot(c) != c || !isAllocation(c))
    return {};
  auto cType = cast<MemRefType>(c.getType());
  // The kernel runs where the consumer is, so the product moves past the
  // ops in between: pure ops, allocations, and stores or linalg ops that
  // write neither its operands nor C (the shape of a reshape, the
  // consumer's other inputs).
  auto movablePast = [&](Operation *it) {
    if (isMemoryEffectFree(it) && it->getNumRegions() == 0)
      return true;
    // Allocations, and views (memref.reshape also reads its shape buffer,
    // which the product does not write).
    if (isa<memref::AllocOp, gpu::AllocOp, ViewLikeOpInterface>(it) &&
        it->getNumRegions() == 0)
      return true;
    SmallVector<Value> written;
    if (auto store = dyn_cast<memref::StoreOp>(it))
      written.push_back(store.getMemRef());
    else if (auto structured = dyn_cast<linalg::LinalgOp>(it);
             structured && structured.hasPureBufferSemantics())
      written.append(structured.getDpsInits().begin(),
                     structured.getDpsInits().end());
    else
      return false;
    if (touchesBuffer(it, c))
      return false;
    for (Value w : written)
      for (Value operand : op.getDpsInputs())
        if (viewRoot(w) == viewRoot(operand))
          return false;
    return true;
  };
  Operation *next = op->getNextNode();
  while (next && !llvm::is_contained(next->getOperands(), c) &&
         movablePast(next))
    next = next->getNextNode();
  auto consumer = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!consumer || !consumer.hasPureBufferSemantics() ||
      consumer.getNumDpsInits() != 1 ||
      consumer.getNumLoops() != static_cast<unsigned>(cType.getRank()) ||
      consumer.getNumParallelLoops() != consumer.getNumLoops())
    return {};
  Value out = consumer.getDpsInits()[0];
  Block &body = consumer.getRegion().front();
  // The output must not be an operand the other blocks are still reading.
  for (Value operand : op.getDpsInputs())
    if (viewRoot(operand) == viewRoot(out))
      return {};
  // In place (the reader overwrites C, as bufferization often arranges),
  // C's later readers see the epilogue's values; into another buffer, C
  // must have no later readers.
  bool inPlace = out == c;
  if ((!inPlace && viewRoot(out) == c) ||
      !body.getArguments().back().use_empty() ||
      !consumer.getMatchingIndexingMap(consumer.getDpsInitOperand(0))
           .isIdentity())
    return {};
  unsigned readsOfC = 0;
  for (OpOperand *input : consumer.getDpsInputOperands()) {
    AffineMap map = consumer.getMatchingIndexingMap(input);
    if (input->get() == c) {
      ++readsOfC;
      if (!map.isIdentity())
        return {};
      continue;
    }
    for (AffineExpr e : map.getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(e))
        return {};
    // Another element of the output read while this one is written would
    // race across threads.
    if (isa<MemRefType>(input->get().getType()) &&
        viewRoot(input->get()) == viewRoot(out) && !map.isIdentity())
      return {};
  }
  if (readsOfC != 1)
    return {};
  for (Operation *user : c.getUsers()) {
    if (user == op || user == consumer || user == alsoReadsC || isDealloc(user))
      continue;
    Operation *at = consumer->getBlock()->findAncestorOpInBlock(*user);
    if (!inPlace || !at || !consumer->isBeforeInBlock(at))
      return {};
  }
  return consumer;
}

void emitEpilogueElement(OpBuilder &b, Location loc, linalg::GenericOp epilogue,
                         Value c, ValueRange indices, Value value) {
  memref::StoreOp::create(b, loc,
                          epilogueValue(b, loc, epilogue, c, indices, value),
                          epilogue.getDpsInits()[0], indices);
}

Value epilogueValue(OpBuilder &b, Location loc, linalg::GenericOp epilogue,
                    Value c, ValueRange indices, Value value) {
  return inlineBodyAt(b, loc, epilogue, indices, c, value).front();
}

SmallVector<Value> inlineBodyAt(OpBuilder &b, Location loc,
                                linalg::GenericOp generic, ValueRange indices,
                                Value source, Value value, ValueRange outputs) {
  Block &body = generic.getRegion().front();
  IRMapping map;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    BlockArgument arg = body.getArgument(input->getOperandNumber());
    if (arg.use_empty())
      continue; // nothing to read
    if (input->get() == source) {
      map.map(arg, value);
      continue;
    }
    if (!isa<MemRefType>(input->get().getType())) {
      map.map(arg, input->get());
      continue;
    }
    SmallVector<Value> at;
    for (AffineExpr e : generic.getMatchingIndexingMap(input).getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(e))
        at.push_back(indices[dim.getPosition()]);
      else
        at.push_back(arith::ConstantIndexOp::create(
            b, loc, cast<AffineConstantExpr>(e).getValue()));
    }
    map.map(arg, memref::LoadOp::create(b, loc, input->get(), at));
  }
  for (auto [arg, current] : llvm::zip(
           body.getArguments().drop_front(generic.getNumDpsInputs()), outputs))
    map.map(arg, current);
  for (Operation &inner : body.without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      map.map(index.getResult(), indices[index.getDim()]);
      continue;
    }
    b.clone(inner, map);
  }
  return llvm::map_to_vector(
      body.getTerminator()->getOperands(),
      [&](Value v) -> Value { return map.lookupOrDefault(v); });
}

} // namespace dgc
