//===- MatchUtils.h - Small matchers shared by the fusion passes ----------===//

#ifndef DGC_PASSES_UTILS_MATCHUTILS_H
#define DGC_PASSES_UTILS_MATCHUTILS_H

#include "dg/DgDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <optional>

namespace dgc {

/// The value of a splat constant (float or integer), if `v` is one.
inline std::optional<double> splatValue(mlir::Value v) {
  mlir::DenseElementsAttr attr;
  if (!mlir::matchPattern(v, mlir::m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  if (llvm::isa<mlir::FloatType>(attr.getElementType()))
    return attr.getSplatValue<llvm::APFloat>().convertToDouble();
  if (attr.getElementType().isIntOrIndex())
    return static_cast<double>(
        attr.getSplatValue<llvm::APInt>().getSExtValue());
  return std::nullopt;
}

/// Looks through at most one dg.cast.
inline mlir::Value throughCast(mlir::Value v) {
  if (auto cast = v.getDefiningOp<dg::CastOp>())
    return cast.getInput();
  return v;
}

} // namespace dgc

#endif // DGC_PASSES_UTILS_MATCHUTILS_H
