//===- BufferUtils.h - Small helpers shared by the passes on buffers ------===//

#ifndef DGC_PASSES_UTILS_BUFFERUTILS_H
#define DGC_PASSES_UTILS_BUFFERUTILS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <optional>

namespace dgc {

/// The buffer a view of `v` (subviews, views, casts, reshapes) was cut from.
inline mlir::Value viewRoot(mlir::Value v) {
  while (auto view = v.getDefiningOp<mlir::ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Whether `op` (or an op nested in it) has an operand cut from the
/// buffer `root`.
inline bool touchesBuffer(mlir::Operation *op, mlir::Value root) {
  return op
      ->walk([&](mlir::Operation *inner) {
        for (mlir::Value operand : inner->getOperands())
          if (mlir::isa<mlir::MemRefType>(operand.getType()) &&
              viewRoot(operand) == root)
            return mlir::WalkResult::interrupt();
        return mlir::WalkResult::advance();
      })
      .wasInterrupted();
}

/// Whether `op` has loops and every one but its innermost is parallel (the
/// row loops around a row's work); the innermost may be of either kind.
inline bool outerLoopsParallel(mlir::linalg::GenericOp op) {
  unsigned loops = op.getNumLoops();
  if (loops == 0)
    return false;
  llvm::SmallVector<mlir::utils::IteratorType> iterators =
      op.getIteratorTypesArray();
  return llvm::all_of(llvm::ArrayRef(iterators).drop_back(),
                      [](mlir::utils::IteratorType t) {
                        return t == mlir::utils::IteratorType::parallel;
                      });
}

/// The number of `op`'s leading parallel loops, if every loop after them is
/// a reduction and there is at least one reduction (the loops of a
/// reduction whose outputs are indexed by the parallel ones: one
/// scf.parallel around scf.for loops).
inline std::optional<unsigned>
parallelLoopsBeforeReductions(mlir::linalg::GenericOp op) {
  llvm::SmallVector<mlir::utils::IteratorType> iterators =
      op.getIteratorTypesArray();
  unsigned parallel = 0;
  while (parallel < iterators.size() &&
         iterators[parallel] == mlir::utils::IteratorType::parallel)
    ++parallel;
  if (parallel == iterators.size() ||
      !llvm::all_of(llvm::ArrayRef(iterators).drop_front(parallel),
                    [](mlir::utils::IteratorType t) {
                      return t == mlir::utils::IteratorType::reduction;
                    }))
    return std::nullopt;
  return parallel;
}

/// The trip count of each loop of `op` (on buffers): the size of an operand
/// dimension it indexes (a map result that is the loop itself; constant
/// results are skipped), a constant where that size is static (so bounds
/// checks against it fold).
llvm::SmallVector<mlir::Value> loopSizes(mlir::OpBuilder &b, mlir::Location loc,
                                         mlir::linalg::GenericOp op);

/// A buffer in CUDA managed memory, which the host and the GPU both reach
/// (dg-gpu-managed-memory), and its release: gpu-to-llvm lowers only the
/// asynchronous gpu.dealloc, so on a fresh stream, waited for.
mlir::gpu::AllocOp allocManaged(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::MemRefType type,
                                mlir::ValueRange dynamicSizes);
void deallocManaged(mlir::OpBuilder &b, mlir::Location loc, mlir::Value memref);

} // namespace dgc

#endif // DGC_PASSES_UTILS_BUFFERUTILS_H
