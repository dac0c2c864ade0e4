//===- ContractionEpilogue.h - What a GEMM kernel can absorb ----*- C++ -*-===//
//
// A contraction lowered to a tile kernel reads C, adds A B and writes C; in
// the buffers convert-dg-to-linalg leaves, C was just filled with zeros (or
// copied from a zero-filled buffer), and the one reader of the result is an
// elementwise generic (the rounding to bf16, a softcap, a scale, a residual
// add). Folding both in saves, per element of C, the fill's write, the
// kernel's read, and a write and read of f32: the GEMM writes the final
// value once.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_PASSES_UTILS_CONTRACTIONEPILOGUE_H
#define DGC_PASSES_UTILS_CONTRACTIONEPILOGUE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace dgc {

/// The constant C holds when `op` starts, if the last op to touch C's
/// buffer is a linalg.fill of C with a constant, or a copy into C from a
/// buffer in that state; that fill or copy is then erased (`op` overwrites
/// every element of C, and nothing reads C in between).
std::optional<double> foldConstantInit(mlir::linalg::GenericOp op);

/// The same for any buffer `init` that `op` overwrites, reading it only
/// through that operand: the constant (float or integer) it holds when
/// `op` starts, its fill or copy erased, and a fill that only fed such
/// copies. The caller must then start `init`'s every element from it.
std::optional<mlir::TypedAttr> takeConstantInit(mlir::Operation *op,
                                                mlir::Value init);

/// The all-parallel generic that reads the contraction `op`'s result C
/// next, element for element (identity map, over C's own loops), writing
/// either C itself (then C may have later readers) or a buffer that
/// aliases neither C nor the contraction's operands (then C has none but
/// `alsoReadsC`, which the caller folds in too). The ops between the two
/// must not write the contraction's operands, as the kernel goes after
/// them. Null if there is no such reader.
mlir::linalg::GenericOp findEpilogue(mlir::linalg::GenericOp op,
                                     mlir::Operation *alsoReadsC = nullptr);

/// Emits `epilogue` for one element: its body with C's element replaced by
/// `value` and the other inputs read at `indices` (C's indices) through
/// their maps, stored to its output at `indices`.
void emitEpilogueElement(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::linalg::GenericOp epilogue, mlir::Value c,
                         mlir::ValueRange indices, mlir::Value value);

/// The values `generic`'s body yields for the element at `indices` (its
/// loops' indices), built at `b`'s insertion point: `source`'s block
/// argument is `value`, the outputs' arguments are `outputs` (if any), and
/// the other inputs the body uses are read at `indices` through their maps
/// (`source` may be null: every input is read). Index ops become `indices`.
llvm::SmallVector<mlir::Value>
inlineBodyAt(mlir::OpBuilder &b, mlir::Location loc,
             mlir::linalg::GenericOp generic, mlir::ValueRange indices,
             mlir::Value source, mlir::Value value,
             mlir::ValueRange outputs = {});

/// What emitEpilogueElement stores, without the store.
mlir::Value epilogueValue(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::linalg::GenericOp epilogue, mlir::Value c,
                          mlir::ValueRange indices, mlir::Value value);

} // namespace dgc

#endif // DGC_PASSES_UTILS_CONTRACTIONEPILOGUE_H
