//===- BufferUtils.h - Small helpers shared by the passes on buffers ------===//

#ifndef DGC_PASSES_BUFFERUTILS_H
#define DGC_PASSES_BUFFERUTILS_H

#include "mlir/Interfaces/ViewLikeInterface.h"

namespace dgc {

/// The buffer a view of `v` (subviews, views, casts, reshapes) was cut from.
inline mlir::Value viewRoot(mlir::Value v) {
  while (auto view = v.getDefiningOp<mlir::ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

} // namespace dgc

#endif // DGC_PASSES_BUFFERUTILS_H
