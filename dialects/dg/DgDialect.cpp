//===- DgDialect.cpp - The dg dialect: registration and types -------------===//

#include "dg/DgDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace dgc::dg;

/// `[d0, d1, ...]`, `[]` for a scalar (#dg.weight_slot's shape).
static ParseResult parseShape(AsmParser &parser, SmallVector<int64_t> &shape) {
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
    return parser.parseInteger(shape.emplace_back());
  });
}

static void printShape(AsmPrinter &printer, ArrayRef<int64_t> shape) {
  printer << '[' << shape << ']';
}

#include "dg/DgDialect.cpp.inc"
#include "dg/DgEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dg/DgAttrs.cpp.inc"
#define GET_TYPEDEF_CLASSES
#include "dg/DgTypes.cpp.inc"

void DgDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dg/DgOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dg/DgTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dg/DgAttrs.cpp.inc"
      >();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  LayerKind kind, int64_t numLayers,
                                  int64_t numKvHeads, int64_t headDim,
                                  int64_t window, Type elementType) {
  if (numLayers <= 0)
    return emitError() << "kv_cache needs at least one layer, got "
                       << numLayers;
  if (numKvHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache needs positive kv_heads and head_dim, got "
                       << numKvHeads << " and " << headDim;
  if (window < 0)
    return emitError() << "kv_cache window must be >= 0, got " << window;
  if (kind == LayerKind::sliding && window == 0)
    return emitError() << "a sliding kv_cache needs a window > 0";
  if (kind == LayerKind::full && window != 0)
    return emitError() << "a full kv_cache has no window, got " << window;
  if (!isa<FloatType>(elementType))
    return emitError() << "kv_cache element type must be a float type, got "
                       << elementType;
  return success();
}
