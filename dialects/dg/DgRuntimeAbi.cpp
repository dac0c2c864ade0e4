//===- DgRuntimeAbi.cpp - Verifiers of the runtime ABI's attributes -------===//
//
// convert-dg-to-runtime-abi states the module's calling convention in
// attributes (DgDialect.h names them) that the manifest writer and the
// CUDA passes read: each is checked here, wherever the IR is verified, so a
// reader may rely on its kind and a hand-written module that gets one wrong
// fails with the attribute's name rather than in the manifest writer.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace dgc::dg;

LogicalResult
WeightSlotAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       StringRef name, int64_t offset, ArrayRef<int64_t> shape,
                       Type type) {
  if (name.empty())
    return emitError() << "#dg.weight_slot needs the weight's name";
  if (offset < 0)
    return emitError() << "#dg.weight_slot '" << name
                       << "' has a negative offset " << offset;
  if (llvm::any_of(shape, [](int64_t dim) { return dim < 0; }))
    return emitError() << "#dg.weight_slot '" << name
                       << "' has a dimension below 0";
  if (!type.isIntOrFloat())
    return emitError() << "#dg.weight_slot '" << name
                       << "' holds integers or floats, got " << type;
  return success();
}

namespace {

LogicalResult expectUnit(Operation *op, NamedAttribute attr) {
  if (isa<UnitAttr>(attr.getValue()))
    return success();
  return op->emitOpError() << "'" << attr.getName().getValue()
                           << "' is a unit attribute, got " << attr.getValue();
}

/// A graph argument's or result's attribute.
LogicalResult verifyValueAttribute(Operation *op, NamedAttribute attr,
                                   bool isArgument) {
  StringRef name = attr.getName().getValue();
  if (name == kNameAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError()
             << "'" << name << "' is a string, got " << attr.getValue();
    return success();
  }
  if (name == kDeviceOnlyAttrName)
    return expectUnit(op, attr);
  if (name == kKVCacheAttrName || name == kKVCacheTableAttrName) {
    if (!isArgument)
      return op->emitOpError() << "'" << name << "' marks an argument";
    return expectUnit(op, attr);
  }
  return success();
}

} // namespace

std::optional<LogicalResult>
dgc::dg::detail::verifyRuntimeAbiAttribute(Operation *op, NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  bool onModule = isa<ModuleOp>(op);
  auto misplaced = [&](StringRef where) {
    return op->emitOpError() << "'" << name << "' belongs on " << where;
  };
  if (name == kWeightTableAttrName) {
    if (!onModule)
      return misplaced("a module");
    auto table = dyn_cast<ArrayAttr>(value);
    if (!table || !llvm::all_of(table, llvm::IsaPred<WeightSlotAttr>))
      return op->emitOpError()
             << "'" << name << "' is an array of #dg.weight_slot, got "
             << value;
    return success();
  }
  if (name == kWeightBytesAttrName) {
    if (!onModule)
      return misplaced("a module");
    auto bytes = dyn_cast<IntegerAttr>(value);
    if (!bytes || !bytes.getType().isInteger(64) || bytes.getInt() < 0)
      return op->emitOpError()
             << "'" << name << "' is a byte count (i64, at least 0), got "
             << value;
    return success();
  }
  if (name == kKVCachePoolsAttrName) {
    if (!onModule)
      return misplaced("a module");
    auto pools = dyn_cast<DictionaryAttr>(value);
    if (!pools)
      return op->emitOpError()
             << "'" << name << "' is a dictionary of pools, got " << value;
    for (NamedAttribute pool : pools) {
      auto type = dyn_cast<TypeAttr>(pool.getValue());
      if (!type || !isa<KVCacheType>(type.getValue()))
        return op->emitOpError()
               << "'" << name << "': pool '" << pool.getName().getValue()
               << "' is a !dg.kv_cache type, got " << pool.getValue();
    }
    return success();
  }
  if (name == kParallelChunksAttrName) {
    if (!isa<FunctionOpInterface>(op))
      return misplaced("a function");
    return expectUnit(op, attr);
  }
  return std::nullopt;
}

LogicalResult DgDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                  unsigned,
                                                  NamedAttribute attr) {
  return verifyValueAttribute(op, attr, /*isArgument=*/true);
}

LogicalResult DgDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                     unsigned,
                                                     NamedAttribute attr) {
  return verifyValueAttribute(op, attr, /*isArgument=*/false);
}
