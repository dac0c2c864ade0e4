//===- RowStatistics.h - One-pass softmax statistics of a row -------------===//
//
// The sampler needs, per row of logits x, the max, the log-sum-exp, the
// entropy and the argmax. All four come from one pass that keeps
//
//   (m, s, u, i) = (max x, sum exp(x - m), sum exp(x - m) (x - m), argmax)
//
// with partial states merged by rescaling to the larger max, so a row can be
// folded sequentially (the host) or in strided shares merged in a tree (a
// GPU block). Then logsumexp = m + log s, softmax(x)_j = exp(x_j - m) / s,
// and the entropy is log s - u / s (no cancellation between large terms).
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_UTILS_ROWSTATISTICS_H
#define DGC_PASSES_UTILS_ROWSTATISTICS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace dgc {

/// The state of an empty row: (-inf, 0, 0, INT32_MAX) as (f32, f32, f32, i32).
llvm::SmallVector<mlir::TypedAttr> rowStatisticsIdentity(mlir::Builder &b);

/// Whether the pick (yValue, yIndex) comes before (xValue, xIndex) in the
/// order of argmax and top-k: value descending, then index ascending.
mlir::Value isBetterPick(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value xValue, mlir::Value xIndex,
                         mlir::Value yValue, mlir::Value yIndex);

/// The state of the union of two partial rows. Associative and commutative
/// up to rounding; the argmax keeps the lower index among equal maxima.
llvm::SmallVector<mlir::Value> combineRowStatistics(mlir::OpBuilder &b,
                                                    mlir::Location loc,
                                                    mlir::ValueRange x,
                                                    mlir::ValueRange y);

/// `state` with one more element `value` (f32) at `index` (i32).
llvm::SmallVector<mlir::Value> addToRowStatistics(mlir::OpBuilder &b,
                                                  mlir::Location loc,
                                                  mlir::ValueRange state,
                                                  mlir::Value value,
                                                  mlir::Value index);

/// A reduction over the last loop on buffers, every other loop parallel,
/// with projected-permutation maps (not a contraction).
bool isRowReduction(mlir::linalg::GenericOp op);

/// A row reduction on buffers with the contract #dg.row_statistics and its
/// outputs (f32 max, sum, sum, i32 argmax): a state that
/// combineRowStatistics merges.
bool isRowStatisticsReduction(mlir::linalg::GenericOp op);

/// A row reduction on buffers with the contract #dg.best_of_rows and its
/// outputs (f32 value, i32 index): a pick that isBetterPick merges.
bool isBestOfRowsReduction(mlir::linalg::GenericOp op);

} // namespace dgc

#endif // DGC_PASSES_UTILS_ROWSTATISTICS_H
