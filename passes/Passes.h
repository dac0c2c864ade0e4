//===- Passes.h - dgc's passes ----------------------------------*- C++ -*-===//

#ifndef DGC_PASSES_PASSES_H
#define DGC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace dgc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Rows of dg-host-vector-contractions' B[n, k] tiles for a CPU with
/// `vectorRegisters` vector registers: the expert tile height the host's
/// grouped MoE GEMMs run best at.
int64_t hostContractionTileRows(int64_t vectorRegisters);

/// The fusion passes that have landed, in order (dgc-opt --dg-fuse,
/// dgc compile --fuse).
void buildFusionPipeline(mlir::OpPassManager &pm);
/// Registers --dg-fuse.
void registerDgcPipelines();

} // namespace dgc

#endif // DGC_PASSES_PASSES_H
