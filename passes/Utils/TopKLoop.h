//===- TopKLoop.h - The top-k loop convert-dg-to-linalg writes --*- C++ -*-===//
//
// convert-dg-to-linalg writes a top-k as an scf.for of k best-of-rows passes
// with the contract #dg.top_k_loop; each target replaces the whole loop by its
// own selection (dg-gpu-top-k, dg-host-top-k).
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_UTILS_TOPKLOOP_H
#define DGC_PASSES_UTILS_TOPKLOOP_H

#include "mlir/Dialect/SCF/IR/SCF.h"

namespace dgc {

/// What the loop computes: the top `k` of each row of `x` (last
/// axis, static and at least k long) into `values` and `indices`, in
/// (value descending, index ascending) order.
struct TopKLoop {
  mlir::Value x, values, indices;
  int64_t k;
};

/// The loop's operands, if `loop` is such a top-k on buffers.
mlir::FailureOr<TopKLoop> matchTopKLoop(mlir::scf::ForOp loop);

/// Every top-k loop under `root` that `accept` takes, with its operands,
/// collected before any is rewritten.
llvm::SmallVector<std::pair<mlir::scf::ForOp, TopKLoop>> findTopKLoops(
    mlir::Operation *root,
    llvm::function_ref<bool(mlir::scf::ForOp, const TopKLoop &)> accept);

} // namespace dgc

#endif // DGC_PASSES_UTILS_TOPKLOOP_H
