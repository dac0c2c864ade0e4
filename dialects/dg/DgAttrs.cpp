//===- DgAttrs.cpp - Verifiers of the contracts and model facts -----------===//
//
// A contract is checked twice: its parameters on their own (verify), and
// against the op that carries it (verifyCarrier, from the dialect's
// verifyOperationAttribute), so that a pass that finds the contract may
// rely on the shape of the op it sits on before and after bufferization.
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace dgc::dg;

#include "dg/DgAttrInterfaces.cpp.inc"

namespace {

/// `op` as the linalg.generic of a row reduction with `inputs` inputs (any
/// number if negative) and `outputs` outputs: the last loop a reduction,
/// every other loop parallel. Reports on `op` and returns null otherwise.
linalg::GenericOp rowReduction(Operation *op, StringRef contract, int inputs,
                               unsigned outputs) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic) {
    op->emitOpError() << "carries #dg." << contract
                      << ", which belongs on a linalg.generic";
    return {};
  }
  if ((inputs >= 0 && generic.getNumDpsInputs() != unsigned(inputs)) ||
      generic.getNumDpsInits() != outputs) {
    InFlightDiagnostic diag = op->emitOpError()
                              << "carries #dg." << contract << ", which needs ";
    if (inputs >= 0)
      diag << inputs << " input(s) and ";
    diag << outputs << " output(s), got ";
    if (inputs >= 0)
      diag << generic.getNumDpsInputs() << " and ";
    diag << generic.getNumDpsInits();
    return {};
  }
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  if (iterators.empty() || iterators.back() != utils::IteratorType::reduction ||
      llvm::count(iterators, utils::IteratorType::reduction) != 1) {
    op->emitOpError() << "carries #dg." << contract
                      << ", which needs a reduction over the last loop only";
    return {};
  }
  return generic;
}

Type elementOf(Value v) { return getElementTypeOrSelf(v.getType()); }

/// Outputs (floats..., i32), the state of a pick or of row statistics.
LogicalResult checkPickState(linalg::GenericOp op, StringRef contract) {
  ValueRange outs = op.getDpsInits();
  for (Value out : outs.drop_back())
    if (!isa<FloatType>(elementOf(out)))
      return op->emitOpError()
             << "carries #dg." << contract
             << ", whose outputs but the last are floats, got "
             << out.getType();
  if (!elementOf(outs.back()).isInteger(32))
    return op->emitOpError() << "carries #dg." << contract
                             << ", whose last output is an i32 index, got "
                             << outs.back().getType();
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Contracts
//===----------------------------------------------------------------------===//

LogicalResult BestOfRowsAttr::verifyCarrier(Operation *op) const {
  linalg::GenericOp generic = rowReduction(op, getMnemonic(), -1, 2);
  return success(generic && succeeded(checkPickState(generic, getMnemonic())));
}

LogicalResult RowStatisticsAttr::verifyCarrier(Operation *op) const {
  linalg::GenericOp generic = rowReduction(op, getMnemonic(), -1, 4);
  return success(generic && succeeded(checkPickState(generic, getMnemonic())));
}

LogicalResult
ColumnGroupMaxAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                           int64_t group) {
  if (group < 2)
    return emitError() << "#dg.column_group_max needs groups of at least 2 "
                          "columns, got "
                       << group;
  return success();
}

LogicalResult ColumnGroupMaxAttr::verifyCarrier(Operation *op) const {
  linalg::GenericOp generic = rowReduction(op, getMnemonic(), 1, 1);
  if (!generic)
    return failure();
  auto input = dyn_cast<ShapedType>(generic.getDpsInputs()[0].getType());
  if (!input || !input.hasRank() || input.getRank() == 0 ||
      input.getRank() != generic.getNumLoops())
    return op->emitOpError()
           << "carries #dg.column_group_max, whose input is ranked with one "
              "dimension a loop";
  int64_t columns = input.getShape().back();
  if (!ShapedType::isDynamic(columns) && columns != getGroup())
    return op->emitOpError()
           << "carries #dg.column_group_max<group = " << getGroup()
           << ">, but its input's groups have " << columns << " columns";
  return success();
}

LogicalResult
GroupedByExpertAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                            int64_t groupRows) {
  if (groupRows < 1)
    return emitError() << "#dg.grouped_by_expert needs at least one row per "
                          "tile, got "
                       << groupRows;
  return success();
}

LogicalResult GroupedByExpertAttr::verifyCarrier(Operation *op) const {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic)
    return op->emitOpError()
           << "carries #dg.grouped_by_expert, which belongs on a "
              "linalg.generic";
  if (generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1)
    return op->emitOpError()
           << "carries #dg.grouped_by_expert, which needs 2 inputs (rows, "
              "tile experts) and 1 output, got "
           << generic.getNumDpsInputs() << " and " << generic.getNumDpsInits();
  auto rows = dyn_cast<ShapedType>(generic.getDpsInputs()[0].getType());
  auto experts = dyn_cast<ShapedType>(generic.getDpsInputs()[1].getType());
  if (!rows || !rows.hasRank() || rows.getRank() != 3 || !experts ||
      !experts.hasRank() || experts.getRank() != 1 ||
      !experts.getElementType().isInteger(32))
    return op->emitOpError()
           << "carries #dg.grouped_by_expert, whose inputs are rows "
              "[tiles, rows, k] and tile experts [tiles] of i32";
  if (!rows.isDynamicDim(1) && rows.getDimSize(1) != getGroupRows())
    return op->emitOpError()
           << "carries #dg.grouped_by_expert<group_rows = " << getGroupRows()
           << ">, but its tiles have " << rows.getDimSize(1) << " rows";
  return success();
}

LogicalResult TopKLoopAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t k) {
  if (k < 1)
    return emitError() << "#dg.top_k_loop needs k >= 1, got " << k;
  return success();
}

LogicalResult TopKLoopAttr::verifyCarrier(Operation *op) const {
  auto loop = dyn_cast<scf::ForOp>(op);
  if (!loop)
    return op->emitOpError()
           << "carries #dg.top_k_loop, which belongs on an scf.for";
  std::optional<int64_t> lower = getConstantIntValue(loop.getLowerBound());
  std::optional<int64_t> upper = getConstantIntValue(loop.getUpperBound());
  std::optional<int64_t> step = getConstantIntValue(loop.getStep());
  if (!lower || !upper || !step || *step < 1)
    return success();
  int64_t steps = (std::max<int64_t>(*upper - *lower, 0) + *step - 1) / *step;
  if (steps != getK())
    return op->emitOpError() << "carries #dg.top_k_loop<k = " << getK()
                             << ">, but runs " << steps << " steps";
  return success();
}

//===----------------------------------------------------------------------===//
// Model facts
//===----------------------------------------------------------------------===//

namespace {

/// Whether the manifest can write `value` (lib/Target/Manifest.cpp).
bool isManifestValue(Attribute value) {
  return isa<IntegerAttr, FloatAttr, DenseI64ArrayAttr, StringAttr>(value);
}

} // namespace

LogicalResult
TokensAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                   std::optional<int64_t> pad, std::optional<int64_t> bos,
                   DenseI64ArrayAttr eos, std::optional<int64_t> boi,
                   std::optional<int64_t> eoi, std::optional<int64_t> image) {
  for (auto [field, id] : {std::pair{"pad", pad},
                           {"bos", bos},
                           {"boi", boi},
                           {"eoi", eoi},
                           {"image", image}})
    if (id && *id < 0)
      return emitError() << "#dg.tokens' " << field << " is an id >= 0, got "
                         << *id;
  if (eos && llvm::any_of(eos.asArrayRef(), [](int64_t id) { return id < 0; }))
    return emitError() << "#dg.tokens' eos are ids >= 0";
  return success();
}

LogicalResult VisionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t patchSize, int64_t poolingKernel,
                                 int64_t softTokens) {
  for (auto [field, value] : {std::pair{"patch_size", patchSize},
                              {"pooling_kernel", poolingKernel},
                              {"soft_tokens", softTokens}})
    if (value < 1)
      return emitError() << "#dg.vision's " << field << " is positive, got "
                         << value;
  return success();
}

LogicalResult ModelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                StringRef name, Type dtype,
                                int64_t canvasLength, int64_t vocabSize,
                                int64_t hiddenSize, int64_t maxPositions,
                                TokensAttr tokens, DictionaryAttr generation,
                                VisionAttr vision,
                                DictionaryAttr sourceConfig) {
  if (name.empty())
    return emitError() << "#dg.model needs a model name";
  if (!isa<FloatType>(dtype))
    return emitError() << "#dg.model's dtype is a float type, got " << dtype;
  for (auto [field, value] : {std::pair{"canvas_length", canvasLength},
                              {"vocab_size", vocabSize},
                              {"hidden_size", hiddenSize}})
    if (value < 1)
      return emitError() << "#dg.model's " << field << " is positive, got "
                         << value;
  if (maxPositions < 0)
    return emitError() << "#dg.model's max_positions is >= 0, got "
                       << maxPositions;
  if (generation)
    for (NamedAttribute entry : generation)
      if (!isManifestValue(entry.getValue()))
        return emitError() << "#dg.model's generation."
                           << entry.getName().getValue()
                           << " is a number, a string or an i64 array, got "
                           << entry.getValue();
  if (sourceConfig)
    for (NamedAttribute entry : sourceConfig)
      if (!isa<StringAttr>(entry.getValue()))
        return emitError() << "#dg.model's source_config."
                           << entry.getName().getValue()
                           << " is JSON text, got " << entry.getValue();
  return success();
}

//===----------------------------------------------------------------------===//
// Where they sit
//===----------------------------------------------------------------------===//

LogicalResult DgDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  if (std::optional<LogicalResult> result =
          detail::verifyRuntimeAbiAttribute(op, attr))
    return *result;
  Attribute value = attr.getValue();
  if (attr.getName() == kContractAttrName) {
    auto contract = dyn_cast<ContractAttrInterface>(value);
    if (!contract)
      return op->emitOpError()
             << "'" << kContractAttrName
             << "' holds a dg contract attribute, got " << value;
    return contract.verifyCarrier(op);
  }
  if (attr.getName() == kModelAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitOpError()
             << "'" << kModelAttrName << "' belongs on a builtin.module";
    if (!isa<ModelAttr>(value))
      return op->emitOpError()
             << "'" << kModelAttrName << "' holds a #dg.model attribute, got "
             << value;
    return success();
  }
  if (isa<ContractAttrInterface>(value))
    return op->emitOpError()
           << "holds a dg contract under '" << attr.getName().getValue()
           << "', which passes look for under '" << kContractAttrName << "'";
  if (isa<ModelAttr>(value))
    return op->emitOpError()
           << "holds #dg.model under '" << attr.getName().getValue()
           << "', which readers look for under '" << kModelAttrName << "'";
  return success();
}
