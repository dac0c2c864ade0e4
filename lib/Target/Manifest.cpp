//===- Manifest.cpp - The module manifest the runtime reads ---------------===//
//
// Written after the runtime-interface lowering, when the weight arena and
// the graphs' C entry points are fixed. docs/module-format.md describes it.
//
//===----------------------------------------------------------------------===//

#include "dgc/HostTarget.h"

#include "dg/DgDialect.h"
#include "dgc/runtime/ModuleFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"

#include <nlohmann/json.hpp>

using namespace mlir;
using nlohmann::json;
namespace key = dgc::runtime::manifest;

namespace dgc {
namespace {

std::string dtypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isBF16())
    return "bf16";
  if (type.isF16())
    return "f16";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(1))
    return "i1";
  if (type.isInteger(8))
    return "i8";
  return "unknown";
}

json shapeOf(ArrayRef<int64_t> shape) {
  json dims = json::array();
  for (int64_t d : shape)
    dims.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return dims;
}

json attrToJson(Attribute attr) {
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return i.getInt();
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto a = dyn_cast<DenseI64ArrayAttr>(attr))
    return json(std::vector<int64_t>(a.asArrayRef()));
  if (auto d = dyn_cast<DictionaryAttr>(attr)) {
    json o = json::object();
    for (NamedAttribute n : d)
      o[n.getName().str()] = attrToJson(n.getValue());
    return o;
  }
  if (auto s = dyn_cast<StringAttr>(attr))
    return s.str();
  if (auto t = dyn_cast<TypeAttr>(attr))
    return dtypeName(t.getValue());
  return nullptr;
}

/// The manifest's `model`: #dg.model, a key per field (nothing without it).
json modelFacts(dg::ModelAttr facts) {
  json model = json::object();
  if (!facts)
    return model;
  model[key::kModelName] = facts.getName().str();
  model[key::kDtype] = dtypeName(facts.getDtype());
  model[key::kCanvasLength] = facts.getCanvasLength();
  model[key::kVocabSize] = facts.getVocabSize();
  model[key::kHiddenSize] = facts.getHiddenSize();
  if (facts.getMaxPositions())
    model[key::kMaxPositions] = facts.getMaxPositions();
  if (dg::TokensAttr tokens = facts.getTokens()) {
    json ids = json::object();
    for (auto [name, id] : {std::pair{key::kPadToken, tokens.getPad()},
                            {key::kBosToken, tokens.getBos()},
                            {key::kBoiToken, tokens.getBoi()},
                            {key::kEoiToken, tokens.getEoi()},
                            {key::kImageToken, tokens.getImage()}})
      if (id)
        ids[name] = *id;
    if (DenseI64ArrayAttr eos = tokens.getEos())
      ids[key::kEosToken] = std::vector<int64_t>(eos.asArrayRef());
    model[key::kTokens] = ids;
  }
  if (DictionaryAttr generation = facts.getGeneration())
    model[key::kGeneration] = attrToJson(generation);
  if (dg::VisionAttr vision = facts.getVision())
    model[key::kVision] = {{key::kPatchSize, vision.getPatchSize()},
                           {key::kPoolingKernel, vision.getPoolingKernel()},
                           {key::kSoftTokens, vision.getSoftTokens()}};
  // The config.json values the graphs were built from, by JSON path.
  if (DictionaryAttr values = facts.getSourceConfig()) {
    json config = json::object();
    for (NamedAttribute n : values)
      config[n.getName().str()] =
          json::parse(cast<StringAttr>(n.getValue()).str());
    model[key::kConfig] = config;
  }
  return model;
}

} // namespace

std::string buildManifest(ModuleOp module,
                          const std::vector<ManifestTarget> &targets) {
  json m;
  m[key::kFormat] = key::kFormatName;
  m[key::kVersion] = runtime::kModuleFormatVersion;
  m[key::kModel] = modelFacts(dg::ModelAttr::of(module));
  for (const ManifestTarget &target : targets) {
    m[key::kTargets][target.name][key::kLibrary] = target.library;
    if (!target.chip.empty())
      m[key::kTargets][target.name][key::kChip] = target.chip;
    if (target.deviceMemory)
      m[key::kTargets][target.name][key::kDeviceMemory] = true;
    if (!target.cpu.empty()) {
      m[key::kTargets][target.name][key::kCpu] = target.cpu;
      m[key::kTargets][target.name][key::kCpuFeatures] = target.cpuFeatures;
    }
  }

  json weights = json::array();
  if (auto table = module->getAttrOfType<ArrayAttr>(dg::kWeightTableAttrName))
    for (auto slot : table.getAsRange<dg::WeightSlotAttr>())
      weights.push_back({{key::kName, slot.getName().str()},
                         {key::kOffset, slot.getOffset()},
                         {key::kShape, shapeOf(slot.getShape())},
                         {key::kDtype, dtypeName(slot.getType())}});
  m[key::kWeights][key::kTensors] = weights;
  if (auto bytes = module->getAttrOfType<IntegerAttr>(dg::kWeightBytesAttrName))
    m[key::kWeights][key::kBytes] = bytes.getInt();

  json graphs = json::object();
  json pools = json::object();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    json graph;
    graph[key::kSymbol] = "_mlir_ciface_" + func.getName().str();
    json inputs = json::array(), outputs = json::array();
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      // A cache is one input: its table follows its pool.
      if (func.getArgAttr(i, dg::kKVCacheTableAttrName))
        continue;
      auto name = func.getArgAttrOfType<StringAttr>(i, dg::kNameAttrName);
      Type type = func.getArgumentTypes()[i];
      json in = {{key::kName, name ? name.str() : ""}};
      if (func.getArgAttr(i, dg::kKVCacheAttrName)) {
        in[key::kKind] = key::kKVCacheInput;
      } else {
        auto t = cast<ShapedType>(type);
        in[key::kDtype] = dtypeName(t.getElementType());
        in[key::kShape] = shapeOf(t.getShape());
      }
      inputs.push_back(in);
    }
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      auto name = func.getResultAttrOfType<StringAttr>(i, dg::kNameAttrName);
      auto t = cast<ShapedType>(func.getResultTypes()[i]);
      outputs.push_back({{key::kName, name ? name.str() : ""},
                         {key::kDtype, dtypeName(t.getElementType())},
                         {key::kShape, shapeOf(t.getShape())}});
    }
    graph[key::kInputs] = inputs;
    graph[key::kOutputs] = outputs;
    graphs[func.getName().str()] = graph;
  }
  m[key::kGraphs] = graphs;
  if (auto caches =
          module->getAttrOfType<DictionaryAttr>(dg::kKVCachePoolsAttrName))
    for (NamedAttribute pool : caches) {
      auto cache =
          cast<dg::KVCacheType>(cast<TypeAttr>(pool.getValue()).getValue());
      m[key::kKVCache][key::kPools][pool.getName().str()] = {
          {key::kKind, dg::stringifyLayerKind(cache.getKind()).str()},
          {key::kLayers, cache.getNumLayers()},
          {key::kKvHeads, cache.getNumKvHeads()},
          {key::kHeadDim, cache.getHeadDim()},
          {key::kWindow, cache.getWindow()},
          {key::kDtype, dtypeName(cache.getElementType())}};
    }
  return m.dump(2) + "\n";
}

} // namespace dgc
