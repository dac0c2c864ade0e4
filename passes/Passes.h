//===- Passes.h - dgc's passes ----------------------------------*- C++ -*-===//

#ifndef DGC_PASSES_PASSES_H
#define DGC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace dgc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Marks a `linalg.generic` that picks the best (value, index) of each row
/// in (value descending, index ascending) order, as convert-dg-to-linalg
/// writes argmax and each top-k step.
inline constexpr const char kBestOfRowsAttr[] = "dg.best_of_rows";

/// The fusion passes that have landed, in order (dgc-opt --dg-fuse,
/// dgc compile --fuse).
void buildFusionPipeline(mlir::OpPassManager &pm);
/// Registers --dg-fuse.
void registerDgcPipelines();

} // namespace dgc

#endif // DGC_PASSES_PASSES_H
