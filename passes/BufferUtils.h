//===- BufferUtils.h - Small helpers shared by the passes on buffers ------===//

#ifndef DGC_PASSES_BUFFERUTILS_H
#define DGC_PASSES_BUFFERUTILS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace dgc {

/// The buffer a view of `v` (subviews, views, casts, reshapes) was cut from.
inline mlir::Value viewRoot(mlir::Value v) {
  while (auto view = v.getDefiningOp<mlir::ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// A buffer in CUDA managed memory, which the host and the GPU both reach
/// (dg-gpu-managed-memory), and its release: gpu-to-llvm lowers only the
/// asynchronous gpu.dealloc, so on a fresh stream, waited for.
mlir::gpu::AllocOp allocManaged(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::MemRefType type,
                                mlir::ValueRange dynamicSizes);
void deallocManaged(mlir::OpBuilder &b, mlir::Location loc, mlir::Value memref);

} // namespace dgc

#endif // DGC_PASSES_BUFFERUTILS_H
