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

/// Marks the `scf.for` of k best-of-rows passes that convert-dg-to-linalg
/// writes for a top-k; its value is k. A GPU lowering replaces the whole
/// loop by one selection kernel (dg-gpu-top-k).
inline constexpr const char kTopKLoopAttr[] = "dg.top_k";

/// Marks the one-pass `linalg.generic` that folds each row into its softmax
/// statistics (max, sum of exponentials, sum of exp * shifted value, argmax;
/// see RowStatistics.h), which a GPU lowering merges across a thread block
/// (dg-gpu-block-reductions).
inline constexpr const char kRowStatisticsAttr[] = "dg.row_statistics";

/// Marks the `linalg.generic` that takes the max of each group of columns
/// of a row (a reduction over the last loop of an expanded view, the
/// sampler's candidates): its body, (element, max) -> max, is also how two
/// partial maxima merge. A GEMM whose tile spans one group computes it in
/// the kernel (dg-gpu-tensor-core-contractions).
inline constexpr const char kColumnGroupMaxAttr[] = "dg.column_group_max";

/// Marks a function dg-host-outline-loop-nests made of a parallel loop nest
/// whose first two arguments are a range [begin, end) of its iterations:
/// dg-host-parallel-dispatch shares its calls out among threads.
inline constexpr const char kParallelChunksAttr[] = "dg.parallel_chunks";

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
