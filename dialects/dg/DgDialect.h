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

// The runtime ABI, as convert-dg-to-runtime-abi leaves it and the manifest
// writer reads it; each is checked where it sits (DgAttrs.cpp).
/// Module: the weights' places in the arena, an array of #dg.weight_slot.
inline constexpr llvm::StringLiteral kWeightTableAttrName = "dg.weight_table";
/// Module: the arena's size in bytes, an i64.
inline constexpr llvm::StringLiteral kWeightBytesAttrName = "dg.weight_bytes";
/// Module: each KV-cache pool by name, a dictionary of !dg.kv_cache types.
inline constexpr llvm::StringLiteral kKVCachePoolsAttrName =
    "dg.kv_cache_pools";
/// Graph argument or result: the name the runtime binds it by, a string.
inline constexpr llvm::StringLiteral kNameAttrName = "dg.name";
/// Graph argument (unit): a KV-cache pool; its table is the next argument.
inline constexpr llvm::StringLiteral kKVCacheAttrName = "dg.kv_cache";
/// Graph argument (unit): a KV-cache pool's table.
inline constexpr llvm::StringLiteral kKVCacheTableAttrName =
    "dg.kv_cache_table";
/// Graph argument or result (unit): only kernels touch it (cuda).
inline constexpr llvm::StringLiteral kDeviceOnlyAttrName = "dg.device_only";
/// Function (unit): an outlined host nest that runs a range of its first
/// parallel loop, for the runtime's threads.
inline constexpr llvm::StringLiteral kParallelChunksAttrName =
    "dg.parallel_chunks";

namespace detail {
/// Whether `attr`, if it is one of the runtime ABI's module or function
/// attributes above, is well formed on `op`; nothing for another attribute
/// (DgRuntimeAbi.cpp, for the dialect's verifyOperationAttribute).
std::optional<mlir::LogicalResult>
verifyRuntimeAbiAttribute(mlir::Operation *op, mlir::NamedAttribute attr);
} // namespace detail
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
