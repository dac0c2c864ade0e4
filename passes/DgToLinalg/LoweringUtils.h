//===- LoweringUtils.h - Shared helpers of the dg-to-linalg patterns ------===//

#ifndef DGC_PASSES_DGTOLINALG_LOWERINGUTILS_H
#define DGC_PASSES_DGTOLINALG_LOWERINGUTILS_H

#include "dg/DgDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace dgc::lowering {

using mlir::Location;
using mlir::OpBuilder;
using mlir::RankedTensorType;
using mlir::Value;

inline RankedTensorType tensorType(Value v) {
  return llvm::cast<RankedTensorType>(v.getType());
}

/// The sizes of the dynamic dimensions of `type`, each read from the first
/// of `sources` (aligned from the right) whose matching dimension is dynamic.
mlir::FailureOr<llvm::SmallVector<Value>>
dynamicSizesFrom(OpBuilder &b, Location loc, RankedTensorType type,
                 mlir::ValueRange sources);

/// The sizes of the dynamic dimensions of `v`, except dimension `axis`.
llvm::SmallVector<Value> dynamicSizesWithout(OpBuilder &b, Location loc,
                                             Value v, int64_t axis);

/// `tensor.empty` of `type`, optionally filled with `fill`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                  mlir::ValueRange dynamicSizes);
Value filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                   mlir::ValueRange dynamicSizes, mlir::TypedAttr fill);

/// The indexing map that reads an operand of `operandShape` inside a loop
/// nest over `resultShape` with NumPy broadcasting (aligned from the right;
/// a static 1 against anything else reads index 0).
mlir::AffineMap broadcastMap(mlir::MLIRContext *ctx,
                             llvm::ArrayRef<int64_t> operandShape,
                             llvm::ArrayRef<int64_t> resultShape);

/// Scalar conversions inside region bodies: any float or integer to f32
/// (i1 as 0/1), and f32 back to the target float type.
Value toF32(OpBuilder &b, Location loc, Value scalar);
Value fromF32(OpBuilder &b, Location loc, Value scalar, mlir::Type target);

mlir::SmallVector<mlir::utils::IteratorType> parallelLoops(int64_t count);

/// `linalg.generic` over the shape of `resultType` (all loops parallel) that
/// reads `inputs` with broadcast maps and yields `body(f32 inputs)` rounded
/// to the result element type.
mlir::FailureOr<Value> elementwise(
    OpBuilder &b, Location loc, RankedTensorType resultType,
    mlir::ValueRange inputs,
    llvm::function_ref<Value(OpBuilder &, Location, mlir::ValueRange)> body);

/// gelu_tanh(g) * u on f32 scalars:
/// 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) u.
Value gatedGeluF32(OpBuilder &b, Location loc, Value g, Value u);

/// A scalar constant of `type`.
Value scalarConstant(OpBuilder &b, Location loc, mlir::Type type, double v);

/// Reduction over `axis` of `input`: a generic with the axis as the last
/// (reduction) loop, an f32 accumulator initialised to `init`, and
/// `combine(acc, f32 element)`.
mlir::FailureOr<Value>
reduceAxis(OpBuilder &b, Location loc, Value input, int64_t axis, double init,
           llvm::function_ref<Value(OpBuilder &, Location, Value acc, Value x)>
               combine);

/// The softmax statistics of each row of `x` along its last axis, in one
/// pass: (max, sum of exponentials, sum of exp * shifted value, argmax) as
/// f32, f32, f32 and i32 tensors without that axis (RowStatistics.h). The
/// generic carries #dg.row_statistics for the GPU (dg-gpu-block-reductions).
/// With `value`, the statistics are of `value(f32 element, perRow values)`
/// instead, the `perRow` tensors (x's shape without its last axis) read beside
/// x.
llvm::SmallVector<Value> rowStatistics(
    OpBuilder &b, Location loc, Value x, mlir::ValueRange perRow = {},
    llvm::function_ref<Value(OpBuilder &, Location, Value, mlir::ValueRange)>
        value = nullptr);

/// The map from an input's loops to a per-row statistic without `axis`.
mlir::AffineMap droppedAxisMap(mlir::MLIRContext *ctx, int64_t rank,
                               int64_t axis);

/// A generic over `resultType` (x's shape) reading `x`, `perRow` values
/// (without `axis`) and `perColumn` values (only `axis`), yielding
/// `f(f32 values)` rounded to the result's element type.
Value mapRows(
    OpBuilder &b, Location loc, Value x, mlir::ValueRange perRow,
    mlir::ValueRange perColumn, int64_t axis, RankedTensorType resultType,
    llvm::function_ref<Value(OpBuilder &, Location, mlir::ValueRange)> f);

} // namespace dgc::lowering

#endif // DGC_PASSES_DGTOLINALG_LOWERINGUTILS_H
