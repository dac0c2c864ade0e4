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
  model["model"] = facts.getName().str();
  model["dtype"] = dtypeName(facts.getDtype());
  model["canvas_length"] = facts.getCanvasLength();
  model["vocab_size"] = facts.getVocabSize();
  model["hidden_size"] = facts.getHiddenSize();
  if (facts.getMaxPositions())
    model["max_positions"] = facts.getMaxPositions();
  for (auto [key, values] : {std::pair{"tokens", facts.getTokens()},
                             {"generation", facts.getGeneration()},
                             {"vision", facts.getVision()}})
    if (values)
      model[key] = attrToJson(values);
  // The config.json values the graphs were built from, by JSON path.
  if (DictionaryAttr values = facts.getSourceConfig()) {
    json config = json::object();
    for (NamedAttribute n : values)
      config[n.getName().str()] =
          json::parse(cast<StringAttr>(n.getValue()).str());
    model["config"] = config;
  }
  return model;
}

} // namespace

std::string buildManifest(ModuleOp module,
                          const std::vector<ManifestTarget> &targets) {
  json m;
  m["format"] = "dgc-module";
  m["version"] = runtime::kModuleFormatVersion;
  m["model"] = modelFacts(dg::ModelAttr::of(module));
  for (const ManifestTarget &target : targets) {
    m["targets"][target.name]["library"] = target.library;
    if (!target.chip.empty())
      m["targets"][target.name]["chip"] = target.chip;
    if (target.deviceMemory)
      m["targets"][target.name]["device_memory"] = true;
    if (!target.cpu.empty()) {
      m["targets"][target.name]["cpu"] = target.cpu;
      m["targets"][target.name]["cpu_features"] = target.cpuFeatures;
    }
  }

  json weights = json::array();
  if (auto table = module->getAttrOfType<ArrayAttr>(dg::kWeightTableAttrName))
    for (auto slot : table.getAsRange<dg::WeightSlotAttr>())
      weights.push_back({{"name", slot.getName().str()},
                         {"offset", slot.getOffset()},
                         {"shape", shapeOf(slot.getShape())},
                         {"dtype", dtypeName(slot.getType())}});
  m["weights"]["tensors"] = weights;
  if (auto bytes = module->getAttrOfType<IntegerAttr>(dg::kWeightBytesAttrName))
    m["weights"]["bytes"] = bytes.getInt();

  json graphs = json::object();
  json pools = json::object();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    json graph;
    graph["symbol"] = "_mlir_ciface_" + func.getName().str();
    json inputs = json::array(), outputs = json::array();
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      // A cache is one input: its table follows its pool.
      if (func.getArgAttr(i, dg::kKVCacheTableAttrName))
        continue;
      auto name = func.getArgAttrOfType<StringAttr>(i, dg::kNameAttrName);
      Type type = func.getArgumentTypes()[i];
      json in = {{"name", name ? name.str() : ""}};
      if (func.getArgAttr(i, dg::kKVCacheAttrName)) {
        in["kind"] = "kv_cache";
      } else {
        auto t = cast<ShapedType>(type);
        in["dtype"] = dtypeName(t.getElementType());
        in["shape"] = shapeOf(t.getShape());
      }
      inputs.push_back(in);
    }
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      auto name = func.getResultAttrOfType<StringAttr>(i, dg::kNameAttrName);
      auto t = cast<ShapedType>(func.getResultTypes()[i]);
      outputs.push_back({{"name", name ? name.str() : ""},
                         {"dtype", dtypeName(t.getElementType())},
                         {"shape", shapeOf(t.getShape())}});
    }
    graph["inputs"] = inputs;
    graph["outputs"] = outputs;
    graphs[func.getName().str()] = graph;
  }
  m["graphs"] = graphs;
  if (auto caches =
          module->getAttrOfType<DictionaryAttr>(dg::kKVCachePoolsAttrName))
    for (NamedAttribute pool : caches) {
      auto cache =
          cast<dg::KVCacheType>(cast<TypeAttr>(pool.getValue()).getValue());
      m["kv_cache"]["pools"][pool.getName().str()] = {
          {"kind", dg::stringifyLayerKind(cache.getKind()).str()},
          {"layers", cache.getNumLayers()},
          {"kv_heads", cache.getNumKvHeads()},
          {"head_dim", cache.getHeadDim()},
          {"window", cache.getWindow()},
          {"dtype", dtypeName(cache.getElementType())}};
    }
  return m.dump(2) + "\n";
}

} // namespace dgc
