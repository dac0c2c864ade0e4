//===- MoEDispatch.h - Grouping a MoE layer's slots by expert ---*- C++ -*-===//
//
// The experts of dg.moe run as grouped GEMMs: every (token, choice) slot is
// given a row of a padded, expert-sorted layout in which each expert's rows
// start at a multiple of `groupRows`, so that every tile of `groupRows`
// rows belongs to one expert and a GEMM kernel reads that expert's weights
// once per tile rather than once per token.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_DGTOLINALG_MOEDISPATCH_H
#define DGC_PASSES_DGTOLINALG_MOEDISPATCH_H

#include "mlir/IR/Builders.h"

namespace dgc::lowering {

struct ExpertGroups {
  /// [T, k] i32: the padded row of each slot.
  mlir::Value rowOfSlot;
  /// [M, groupRows] i32: the token of each row, -1 for padding.
  mlir::Value tokenOfRow;
  /// [M] i32: the expert of each tile of rows, -1 for unused tiles.
  mlir::Value tileExpert;
  /// M = ceil(T * k / groupRows) + experts, enough for any routing.
  mlir::Value numTiles;
};

/// Counts, offsets and the permutation of `experts` [T, k] (i32 choices of
/// `numExperts`), as linalg.generic ops with static loop structure (the
/// within-expert rank is a reduction over earlier slots, so no scan and no
/// host loop is needed).
ExpertGroups groupSlotsByExpert(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value experts, int64_t numExperts,
                                int64_t groupRows);

/// rows[m, i, :] = input[tokenOfRow[m, i], :] (zero for padding rows).
mlir::Value gatherRows(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value input, const ExpertGroups &groups,
                       int64_t groupRows);

/// out[m, i, n] = sum_k rows[m, i, k] * weight[tileExpert[m], n, k] in f32:
/// each tile of rows against its expert's [N, K] matrix, with the contract
/// #dg.grouped_by_expert for the GPU passes.
mlir::Value groupedProjection(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value rows, mlir::Value tileExpert,
                              mlir::Value weight);

} // namespace dgc::lowering

#endif // DGC_PASSES_DGTOLINALG_MOEDISPATCH_H
