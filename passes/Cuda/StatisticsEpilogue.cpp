//===- StatisticsEpilogue.cpp - Row reductions in a GEMM's tiles ----------===//

#include "passes/Cuda/StatisticsEpilogue.h"

#include "dg/DgDialect.h"

#include "passes/Cuda/MmaTileKernel.h"
#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"
#include "passes/Utils/ContractionEpilogue.h"
#include "passes/Utils/RowStatistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Dominance.h"

#include <limits>

using namespace mlir;

namespace dgc {
namespace {

/// Whether `op` (or an op nested in it) writes a buffer cut from `root`.
bool writes(Operation *op, Value root) {
  bool found = false;
  op->walk([&](Operation *inner) {
    SmallVector<Value> written;
    if (auto store = dyn_cast<memref::StoreOp>(inner))
      written.push_back(store.getMemRef());
    else if (auto copy = dyn_cast<memref::CopyOp>(inner))
      written.push_back(copy.getTarget());
    else if (auto structured = dyn_cast<linalg::LinalgOp>(inner))
      llvm::append_range(written, structured.getDpsInits());
    else if (!isa<MemoryEffectOpInterface>(inner) &&
             inner->getNumRegions() == 0)
      // Unknown effects (a call): assume the worst of a memref operand.
      llvm::append_range(written, inner->getOperands());
    for (Value w : written)
      if (isa<MemRefType>(w.getType()) && viewRoot(w) == root)
        found = true;
  });
  return found;
}

/// Whether `op` is a row reduction of `source` the kernel at `epilogue` can
/// compute instead.
bool isFoldable(linalg::GenericOp op, Value source,
                linalg::GenericOp epilogue) {
  if (op->getBlock() != epilogue->getBlock() ||
      !epilogue->isBeforeInBlock(op) ||
      !(isRowStatisticsReduction(op) || isBestOfRowsReduction(op)))
    return false;
  unsigned loops = op.getNumLoops();
  if (loops !=
      static_cast<unsigned>(cast<MemRefType>(source.getType()).getRank()))
    return false;
  SmallVector<Value> roots = {viewRoot(source)};
  unsigned reads = 0;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (input->get() == source) {
      ++reads;
      if (!map.isIdentity() || input->getOperandNumber() != 0)
        return false;
      continue;
    }
    // A per-row input: the same for every column of a row.
    if (map.isFunctionOfDim(loops - 1))
      return false;
    if (isa<MemRefType>(input->get().getType()))
      roots.push_back(viewRoot(input->get()));
  }
  if (reads != 1)
    return false;
  // Per row, in the source's order of rows: the merge indexes them so.
  AffineMap rowMap = AffineMap::getMultiDimIdentityMap(loops, op.getContext())
                         .dropResult(loops - 1);
  for (OpOperand &init : op.getDpsInitsMutable())
    if (op.getMatchingIndexingMap(&init) != rowMap)
      return false;
  for (Operation *it = epilogue->getNextNode(); it != op.getOperation();
       it = it->getNextNode())
    for (Value root : roots)
      if (writes(it, root))
        return false;
  return true;
}

/// Whether `view` splits the last dimension of its source into
/// [groups, `group`] and keeps the others.
bool splitsColumnsInto(memref::ExpandShapeOp view, int64_t group) {
  SmallVector<ReassociationIndices> parts = view.getReassociationIndices();
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i].size() != 1)
      return false;
  auto type = view.getResultType();
  return parts.back().size() == 2 &&
         type.getDimSize(type.getRank() - 1) == group;
}

/// The allocation of `buffer` when it can move right before `point`: one
/// in the same block after it, whose sizes are known there.
Operation *movableAllocation(Value buffer, Operation *point,
                             DominanceInfo &dominance) {
  Operation *alloc = buffer.getDefiningOp();
  if (!alloc || alloc->getBlock() != point->getBlock() ||
      !isa<memref::AllocOp, gpu::AllocOp>(alloc))
    return nullptr;
  if (auto gpuAlloc = dyn_cast<gpu::AllocOp>(alloc);
      gpuAlloc &&
      (gpuAlloc.getAsyncToken() || !gpuAlloc.getAsyncDependencies().empty()))
    return nullptr;
  for (Value size : alloc->getOperands())
    if (!dominance.properlyDominates(size, point))
      return nullptr;
  return alloc;
}

/// Whether `op` is a #dg.column_group_max of `view` that the kernel at
/// `epilogue` can write the maxima of (findColumnGroupMaxima).
bool isFoldableGroupMax(linalg::GenericOp op, Value view, Value written,
                        linalg::GenericOp epilogue,
                        ArrayRef<Operation *> kernel) {
  if (!dg::ColumnGroupMaxAttr::of(op) ||
      op->getBlock() != epilogue->getBlock() ||
      !epilogue->isBeforeInBlock(op) || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || op.getDpsInputs()[0] != view ||
      !isRowReduction(op))
    return false;
  unsigned loops = op.getNumLoops();
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(loops, op.getContext());
  if (op.getIndexingMapsArray()[0] != identity ||
      op.getIndexingMapsArray()[1] != identity.dropResult(loops - 1))
    return false;
  // The body is also the merge of two maxima, with no position of its own.
  if (!op.getRegion().front().getOps<linalg::IndexOp>().empty())
    return false;
  Value out = op.getDpsInits()[0];
  auto outType = cast<MemRefType>(out.getType());
  if (viewRoot(out) != out || !outType.getLayout().isIdentity() ||
      outType.getElementType() !=
          cast<MemRefType>(written.getType()).getElementType())
    return false;
  DominanceInfo dominance(epilogue->getParentOp());
  if (!dominance.properlyDominates(out, epilogue) &&
      !movableAllocation(out, epilogue, dominance))
    return false;
  // Nor may the kernel read them (a buffer bufferization reused).
  for (Operation *part : kernel)
    if (touchesBuffer(part, out))
      return false;
  // The kernel writes the maxima and reads nothing of them: in between,
  // only fills may touch them, and nothing may write what they are of.
  Value source = viewRoot(written);
  for (Operation *it = epilogue->getNextNode(); it != op.getOperation();
       it = it->getNextNode()) {
    if (writes(it, source))
      return false;
    auto fill = dyn_cast<linalg::FillOp>(it);
    if (it == out.getDefiningOp() || (fill && fill.getDpsInits()[0] == out))
      continue;
    if (touchesBuffer(it, out))
      return false;
  }
  return true;
}

} // namespace

bool RowReduction::isStatistics() const {
  return bool(dg::RowStatisticsAttr::of(op));
}

SmallVector<TypedAttr> RowReduction::identity(Builder &b) const {
  if (isColumnGroups())
    return {b.getFloatAttr(
        cast<MemRefType>(op.getDpsInits()[0].getType()).getElementType(),
        -std::numeric_limits<double>::infinity())};
  if (isStatistics())
    return rowStatisticsIdentity(b);
  return {b.getF32FloatAttr(-std::numeric_limits<double>::infinity()),
          b.getI32IntegerAttr(std::numeric_limits<int32_t>::max())};
}

SmallVector<Value> RowReduction::fold(OpBuilder &b, Location loc,
                                      ValueRange indices, Value value,
                                      ValueRange state) const {
  if (!isColumnGroups())
    return inlineBodyAt(b, loc, op, indices, source, value, state);
  // The group's loops: column c is element c % group of group c / group.
  SmallVector<Value> at(indices.drop_back());
  Value size = arith::ConstantIndexOp::create(b, loc, group);
  at.push_back(arith::DivUIOp::create(b, loc, indices.back(), size));
  at.push_back(arith::RemUIOp::create(b, loc, indices.back(), size));
  return inlineBodyAt(b, loc, op, at, source, value, state);
}

SmallVector<Value> RowReduction::combine(OpBuilder &b, Location loc,
                                         ValueRange x, ValueRange y) const {
  if (isColumnGroups())
    return inlineBodyAt(b, loc, op, ValueRange(), source, y.front(), x);
  if (isStatistics())
    return combineRowStatistics(b, loc, x, y);
  Value better = isBetterPick(b, loc, x[0], x[1], y[0], y[1]);
  return {arith::SelectOp::create(b, loc, better, y[0], x[0]),
          arith::SelectOp::create(b, loc, better, y[1], x[1])};
}

void RowReduction::replaceByMerge(ArrayRef<Value> partials) const {
  if (isColumnGroups()) {
    op.erase();
    if (Operation *view = source.getDefiningOp(); view && view->use_empty())
      view->erase();
    return;
  }
  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  unsigned rank = cast<MemRefType>(partials.front().getType()).getRank();
  unsigned count = partials.size();
  SmallVector<AffineMap> maps(count,
                              AffineMap::getMultiDimIdentityMap(rank, ctx));
  maps.append(
      count, AffineMap::getMultiDimIdentityMap(rank, ctx).dropResult(rank - 1));
  SmallVector<utils::IteratorType> iterators(rank - 1,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto merge = linalg::GenericOp::create(
      b, loc, TypeRange(), partials, op.getDpsInits(), maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(
            nb, nl,
            combine(nb, nl, args.drop_front(count), args.take_front(count)));
      });
  if (auto statistics = dg::RowStatisticsAttr::of(op))
    dg::setContract(merge, statistics);
  else if (auto pick = dg::BestOfRowsAttr::of(op))
    dg::setContract(merge, pick);
  op.erase();
}

SmallVector<Value> allocatePartials(OpBuilder &b, Location loc,
                                    linalg::GenericOp reduction,
                                    ArrayRef<Value> rowSizes, Value colTiles) {
  std::optional<int64_t> staticTiles = getConstantIntValue(colTiles);
  SmallVector<Value> partials;
  for (Value out : reduction.getDpsInits()) {
    auto type = cast<MemRefType>(out.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.push_back(staticTiles ? *staticTiles : ShapedType::kDynamic);
    SmallVector<Value> dynamic;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        dynamic.push_back(rowSizes[d]);
    if (!staticTiles)
      dynamic.push_back(colTiles);
    partials.push_back(
        allocManaged(b, loc, MemRefType::get(shape, type.getElementType()),
                     dynamic)
            .getMemref());
  }
  return partials;
}

MmaProblem::RowFold rowFoldOf(
    ArrayRef<RowReduction> reductions, ArrayRef<SmallVector<Value>> partials,
    linalg::GenericOp epilogue, Value c, Location loc,
    std::function<SmallVector<Value>(OpBuilder &, Value, Value)> indicesOf) {
  SmallVector<size_t> starts;
  MmaProblem::RowFold fold;
  Builder attrs(c.getContext());
  for (const RowReduction &reduction : reductions) {
    starts.push_back(fold.identity.size());
    llvm::append_range(fold.identity, reduction.identity(attrs));
  }
  starts.push_back(fold.identity.size());
  auto slice = [starts](ValueRange state, size_t i) {
    return state.slice(starts[i], starts[i + 1] - starts[i]);
  };
  SmallVector<RowReduction> all(reductions.begin(), reductions.end());
  // The epilogue's value, stored to its output; or C's own.
  fold.value = [=](OpBuilder &b, Value row, Value col, Value acc) -> Value {
    if (!epilogue)
      return acc;
    return epilogueValue(b, loc, epilogue, c, indicesOf(b, row, col), acc);
  };
  Value out = epilogue ? epilogue.getDpsInits()[0] : c;
  fold.storeValue = [=](OpBuilder &b, Value row, Value col, Value value) {
    memref::StoreOp::create(b, loc, value, out, indicesOf(b, row, col));
  };
  fold.add = [=](OpBuilder &b, ValueRange state, Value row, Value col,
                 Value acc, Value value) {
    SmallVector<Value> indices = indicesOf(b, row, col), next;
    for (size_t i = 0; i < all.size(); ++i)
      llvm::append_range(next, all[i].fold(b, loc, indices,
                                           all[i].source == c ? acc : value,
                                           slice(state, i)));
    return next;
  };
  fold.combine = [=](OpBuilder &b, ValueRange x, ValueRange y) {
    SmallVector<Value> merged;
    for (size_t i = 0; i < all.size(); ++i)
      llvm::append_range(merged,
                         all[i].combine(b, loc, slice(x, i), slice(y, i)));
    return merged;
  };
  SmallVector<SmallVector<Value>> buffers(partials.begin(), partials.end());
  fold.store = [=](OpBuilder &b, Value row, Value columnTile,
                   ValueRange state) {
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    SmallVector<Value> at = indicesOf(b, row, zero);
    at.back() = columnTile;
    for (size_t i = 0; i < all.size(); ++i)
      for (auto [value, partial] : llvm::zip(slice(state, i), buffers[i]))
        memref::StoreOp::create(b, loc, value, partial, at);
  };
  return fold;
}

SmallVector<RowReduction> findRowReductions(Value source,
                                            linalg::GenericOp epilogue,
                                            ArrayRef<Operation *> ignored,
                                            bool all) {
  SmallVector<RowReduction> found;
  if (!epilogue)
    return found;
  for (Operation *user : source.getUsers()) {
    if (llvm::is_contained(ignored, user) ||
        isa<memref::DeallocOp, gpu::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (generic && isFoldable(generic, source, epilogue))
      found.push_back({generic, source});
    else if (all)
      return {};
  }
  return found;
}

SmallVector<RowReduction> findColumnGroupMaxima(Value written,
                                                linalg::GenericOp epilogue,
                                                int64_t tileColumns,
                                                ArrayRef<Operation *> kernel) {
  SmallVector<RowReduction> found;
  for (Operation *user : written.getUsers()) {
    auto view = dyn_cast<memref::ExpandShapeOp>(user);
    if (!view || view.getSrc() != written ||
        !splitsColumnsInto(view, tileColumns))
      continue;
    for (Operation *reader : view.getResult().getUsers())
      if (auto op = dyn_cast<linalg::GenericOp>(reader);
          op &&
          isFoldableGroupMax(op, view.getResult(), written, epilogue, kernel))
        found.push_back({op, view.getResult(), tileColumns});
  }
  return found;
}

void claimGroupMaxima(const RowReduction &groups, linalg::GenericOp epilogue) {
  Value out = groups.op.getDpsInits()[0];
  DominanceInfo dominance(epilogue->getParentOp());
  if (!dominance.properlyDominates(out, epilogue))
    movableAllocation(out, epilogue, dominance)->moveBefore(epilogue);
  SmallVector<Operation *> fills;
  for (Operation *it = epilogue->getNextNode(); it != groups.op.getOperation();
       it = it->getNextNode())
    if (auto fill = dyn_cast<linalg::FillOp>(it);
        fill && fill.getDpsInits()[0] == out)
      fills.push_back(fill);
  for (Operation *fill : fills)
    fill->erase();
}

} // namespace dgc
