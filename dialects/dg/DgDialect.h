//===- DgDialect.h - The dg dialect: dialect, types, attributes, ops ------===//

#ifndef DG_DGDIALECT_H
#define DG_DGDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dg/DgDialect.h.inc"
#include "dg/DgEnums.h.inc"

namespace dgc::dg {
/// The side-effect resource of the paged KV cache: writes and reads of the
/// cache are ordered against each other and never removed as dead code.
struct KVCacheResource
    : public mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "dg.kv_cache"; }
};

/// The NumPy broadcast of two shapes, or failure when a pair of static
/// dimensions differs and neither is 1. Dynamic dimensions agree with any.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// The discardable attribute under which an op carries its contract with
/// later passes (a ContractAttrInterface attribute such as
/// #dg.best_of_rows; DgAttrs.td).
inline constexpr llvm::StringLiteral kContractAttrName = "dg.contract";

/// The module attribute that holds the model's facts (#dg.model).
inline constexpr llvm::StringLiteral kModelAttrName = "dg.model";
} // namespace dgc::dg

#include "dg/DgAttrInterfaces.h.inc"
#define GET_ATTRDEF_CLASSES
#include "dg/DgAttrs.h.inc"

namespace dgc::dg {
/// Leaves `contract` on `op` (`op` is verified to be the kind it describes).
inline void setContract(mlir::Operation *op, ContractAttrInterface contract) {
  op->setAttr(kContractAttrName, contract);
}

/// Whether `op` carries a contract with later passes, which passes that
/// rewrite ops must then keep whole.
inline bool hasContract(mlir::Operation *op) {
  return op->hasAttr(kContractAttrName);
}
} // namespace dgc::dg
#define GET_TYPEDEF_CLASSES
#include "dg/DgTypes.h.inc"
#define GET_OP_CLASSES
#include "dg/DgOps.h.inc"

#endif // DG_DGDIALECT_H
