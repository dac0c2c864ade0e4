//===- TopKLoop.cpp - The top-k loop convert-dg-to-linalg writes ----------===//

#include "passes/Utils/TopKLoop.h"

#include "dg/DgDialect.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/SetVector.h"

#include <limits>

using namespace mlir;

namespace dgc {

SmallVector<std::pair<scf::ForOp, TopKLoop>>
findTopKLoops(Operation *root,
              function_ref<bool(scf::ForOp, const TopKLoop &)> accept) {
  SmallVector<std::pair<scf::ForOp, TopKLoop>> found;
  root->walk([&](scf::ForOp loop) {
    if (FailureOr<TopKLoop> m = matchTopKLoop(loop);
        succeeded(m) && accept(loop, *m))
      found.push_back({loop, *m});
  });
  return found;
}

FailureOr<TopKLoop> matchTopKLoop(scf::ForOp loop) {
  auto contract = dg::TopKLoopAttr::of(loop);
  if (!contract)
    return failure();
  TopKLoop m;
  m.k = contract.getK();
  SmallVector<linalg::GenericOp> steps;
  llvm::SetVector<Value> written; // buffers from outside the loop
  loop.getBody()->walk([&](Operation *op) {
    if (auto generic = dyn_cast<linalg::GenericOp>(op);
        generic && dg::BestOfRowsAttr::of(generic))
      steps.push_back(generic);
    SmallVector<Value> targets;
    if (auto copy = dyn_cast<memref::CopyOp>(op))
      targets.push_back(copy.getTarget());
    else if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
      llvm::append_range(targets, linalgOp.getDpsInits());
    else if (auto store = dyn_cast<memref::StoreOp>(op))
      targets.push_back(store.getMemRef());
    for (Value target : targets)
      if (Value root = viewRoot(target); loop.isDefinedOutsideOfLoop(root))
        written.insert(root);
  });
  if (steps.size() != 1 || written.size() != 2)
    return failure();
  m.x = steps.front().getDpsInputs()[0];
  if (!loop.isDefinedOutsideOfLoop(m.x))
    return failure();
  auto xType = dyn_cast<MemRefType>(m.x.getType());
  if (!xType ||
      !(xType.getElementType().isF32() || xType.getElementType().isBF16()))
    return failure();
  int64_t rank = xType.getRank();
  // Every row must hold at least k elements.
  int64_t length = xType.getDimSize(rank - 1);
  if (ShapedType::isDynamic(length) || length < m.k ||
      length > std::numeric_limits<int32_t>::max())
    return failure();
  for (Value buffer : written) {
    auto type = dyn_cast<MemRefType>(buffer.getType());
    if (!type || type.getRank() != rank || type.getDimSize(rank - 1) != m.k)
      return failure();
    if (type.getElementType().isInteger(32))
      m.indices = buffer;
    else if (type.getElementType() == xType.getElementType())
      m.values = buffer;
  }
  if (!m.values || !m.indices)
    return failure();
  return m;
}

} // namespace dgc
