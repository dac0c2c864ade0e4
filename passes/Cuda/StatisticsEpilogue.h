//===- StatisticsEpilogue.h - Row reductions in a GEMM's tiles --*- C++ -*-===//
//
// The sampler's head is a GEMM whose f32 result C is read by the rounding
// to bf16 (an epilogue, ContractionEpilogue.h) and by the one-pass row
// statistics (#dg.row_statistics: max, sum of exponentials, sum of
// p * (x - max), argmax; RowStatistics.h); the rounded logits are read in
// turn by the full-vocabulary draw (a #dg.best_of_rows over the logits plus
// noise) and the self-conditioning's statistics. Each such row reduction
// folds into the GEMM: every block folds its tile's columns of each of its
// rows into a partial state, and a small reduction (with the reader's
// contract, for dg-gpu-block-reductions) merges the column tiles' partials.
// With all of C's readers folded, C is never written. The top-64's
// candidates start from the max of each group of 64 rounded logits
// (#dg.column_group_max): where the kernel's tile is 64 columns wide, a
// block's partial for a row is its group's max, stored as the result.
// Each element's rounded value is worked out once, for its store and
// every fold.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_CUDA_STATISTICSEPILOGUE_H
#define DGC_PASSES_CUDA_STATISTICSEPILOGUE_H

#include "passes/Cuda/MmaTileKernel.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace dgc {

/// A row reduction that reads `source` (C, or the epilogue's output)
/// element for element: #dg.row_statistics (f32 max, sum, sum, i32 argmax)
/// or #dg.best_of_rows (f32 value, i32 index). Or, with `group` set, a
/// #dg.column_group_max: `source` is then a view of the epilogue's output
/// as [rows..., groups, group], one group a tile of the kernel's columns,
/// and its partials are the maxima themselves.
struct RowReduction {
  /// Mutable: an op handle's accessors are not const.
  mutable mlir::linalg::GenericOp op;
  mlir::Value source;
  int64_t group = 0;

  bool isStatistics() const;
  bool isColumnGroups() const { return group != 0; }
  /// The state of an empty row.
  llvm::SmallVector<mlir::TypedAttr> identity(mlir::Builder &b) const;
  /// `state` with `source`'s element `value` at `indices` folded in by the
  /// op's body, its other inputs read at `indices`.
  llvm::SmallVector<mlir::Value> fold(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::ValueRange indices,
                                      mlir::Value value,
                                      mlir::ValueRange state) const;
  /// The state of the union of two partial rows.
  llvm::SmallVector<mlir::Value> combine(mlir::OpBuilder &b, mlir::Location loc,
                                         mlir::ValueRange x,
                                         mlir::ValueRange y) const;
  /// Replaces the op by the merge of `partials` (its outputs' shapes with
  /// one more dimension, the column tiles) into its outputs; a column
  /// group's op, whose outputs the kernel wrote, is erased.
  void replaceByMerge(llvm::ArrayRef<mlir::Value> partials) const;
};

/// The row reductions of `source` that can run in the kernel that replaces
/// the contraction and its epilogue (placed where `epilogue` is): ops in
/// its block after it, reading `source` with an identity map over its
/// loops (the last the reduction) beside per-row inputs, with nothing in
/// between writing `source` or those inputs. With `all`, every reader of
/// `source` but `ignored` and releases must be one, else none is returned.
llvm::SmallVector<RowReduction>
findRowReductions(mlir::Value source, mlir::linalg::GenericOp epilogue,
                  llvm::ArrayRef<mlir::Operation *> ignored, bool all);

/// The #dg.column_group_max readers of the epilogue's output `written`,
/// through a view that splits its last dimension into groups of
/// `tileColumns` (the kernel's tile width), whose maxima the kernel at
/// `epilogue` can store directly: ops in its block after it, with nothing
/// in between writing `written`, and nothing touching their output but
/// fills (which claimGroupMaxima erases), nor any op of the `kernel` (the
/// contraction, the epilogue, the other folds). The output must be a whole
/// buffer, allocated before the epilogue or in a way that can move there.
llvm::SmallVector<RowReduction>
findColumnGroupMaxima(mlir::Value written, mlir::linalg::GenericOp epilogue,
                      int64_t tileColumns,
                      llvm::ArrayRef<mlir::Operation *> kernel);

/// Readies the output of `groups` (from findColumnGroupMaxima) for the
/// kernel at `epilogue` to write: its allocation moved before the
/// epilogue, the fills before the op erased.
void claimGroupMaxima(const RowReduction &groups,
                      mlir::linalg::GenericOp epilogue);

/// Buffers for the partials of `reduction`'s outputs, one per row and tile
/// of columns: each output's shape (C's rows, of sizes `rowSizes` where
/// dynamic) with `colTiles` appended, in managed memory.
llvm::SmallVector<mlir::Value>
allocatePartials(mlir::OpBuilder &b, mlir::Location loc,
                 mlir::linalg::GenericOp reduction,
                 llvm::ArrayRef<mlir::Value> rowSizes, mlir::Value colTiles);

/// The GEMM kernel's fold of `reductions` (MmaTileKernel.h), its state their
/// states side by side: each reads C's accumulator or, when it reads the
/// epilogue's output, the epilogue's value of it, which the fold also
/// stores (C's accumulator, without an epilogue). C's element (row, col) is
/// at `indicesOf(row, col)`; each partial is stored to its `partials` at
/// the row's indices with the column tile last.
MmaProblem::RowFold rowFoldOf(
    llvm::ArrayRef<RowReduction> reductions,
    llvm::ArrayRef<llvm::SmallVector<mlir::Value>> partials,
    mlir::linalg::GenericOp epilogue, mlir::Value c, mlir::Location loc,
    std::function<llvm::SmallVector<mlir::Value>(mlir::OpBuilder &, mlir::Value,
                                                 mlir::Value)>
        indicesOf);

} // namespace dgc

#endif // DGC_PASSES_CUDA_STATISTICSEPILOGUE_H
