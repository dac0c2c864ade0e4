//===- Manifest.cpp - Parsing and checking manifest.json ------------------===//

#include "dgc/runtime/Manifest.h"

#include "GenerationJson.h"
#include "StrictJson.h"

#include <nlohmann/json.hpp>

#include <algorithm>

using nlohmann::json;
namespace key = dgc::runtime::manifest;

namespace dgc::runtime {
namespace {

struct ManifestError {
  std::string message;
};

[[noreturn]] void fail(const std::string &where, const std::string &what) {
  throw ManifestError{where.empty() ? what : where + ": " + what};
}

const json &member(const json &object, const char *key,
                   const std::string &where) {
  if (!object.is_object())
    fail(where, "expected an object");
  auto it = object.find(key);
  if (it == object.end())
    fail(where.empty() ? key : where + "." + key, "required field is missing");
  return *it;
}

/// A member of an object, and its path for messages ("model.vocab_size").
struct Field {
  const json &value;
  std::string where;
};

Field field(const json &object, const char *key, const std::string &where) {
  return {member(object, key, where), where.empty() ? key : where + "." + key};
}

/// A member of the field `parent`.
Field field(const Field &parent, const char *key) {
  return field(parent.value, key, parent.where);
}

int64_t integer(const json &value, const std::string &where, int64_t min,
                int64_t max) {
  if (!value.is_number_integer())
    fail(where, "expected an integer");
  int64_t v = value.get<int64_t>();
  if (v < min || v > max)
    fail(where, "expected an integer in [" + std::to_string(min) + ", " +
                    std::to_string(max) + "], got " + std::to_string(v));
  return v;
}

std::string string(const json &value, const std::string &where) {
  if (!value.is_string())
    fail(where, "expected a string");
  return value.get<std::string>();
}

int64_t integer(const Field &f, int64_t min, int64_t max) {
  return integer(f.value, f.where, min, max);
}

std::string string(const Field &f) { return string(f.value, f.where); }

DType dtype(const json &value, const std::string &where) {
  std::string s = string(value, where);
  static const std::map<std::string, DType> names = {
      {"f32", DType::F32}, {"bf16", DType::BF16}, {"f16", DType::F16},
      {"i32", DType::I32}, {"i1", DType::Bool},   {"i8", DType::I8}};
  auto it = names.find(s);
  if (it == names.end())
    fail(where, "unknown element type \"" + s + "\"");
  return it->second;
}

DType dtype(const Field &f) { return dtype(f.value, f.where); }

std::vector<int64_t> shape(const json &value, const std::string &where,
                           bool allowDynamic) {
  if (!value.is_array() || value.size() > 8)
    fail(where, "expected an array of at most 8 dimensions");
  std::vector<int64_t> dims;
  for (size_t i = 0; i < value.size(); ++i)
    dims.push_back(integer(value[i], where + "[" + std::to_string(i) + "]",
                           allowDynamic ? -1 : 0, int64_t(1) << 40));
  return dims;
}

std::vector<int64_t> shape(const Field &f, bool allowDynamic) {
  return shape(f.value, f.where, allowDynamic);
}

TensorSpec tensorSpec(const json &value, const std::string &where) {
  TensorSpec t;
  t.name = string(field(value, key::kName, where));
  if (value.contains(key::kKind)) {
    if (string(field(value, key::kKind, where)) != key::kKVCacheInput)
      fail(where + "." + key::kKind,
           std::string("expected \"") + key::kKVCacheInput + "\"");
    t.isCache = true;
    return t;
  }
  t.dtype = dtype(field(value, key::kDtype, where));
  t.shape = shape(field(value, key::kShape, where), true);
  return t;
}

Manifest parse(std::string_view text, const std::string &path) {
  // Strict: a key given twice would otherwise keep its last value silently.
  std::string problem;
  std::optional<json> parsed = parseStrictJson(text, 64, "key", problem);
  if (!parsed)
    fail("", problem);
  json doc = std::move(*parsed);
  Manifest m;
  m.path = path;
  if (!doc.is_object() || doc.value(key::kFormat, "") != key::kFormatName)
    fail("", std::string("not a dgc module manifest (\"") + key::kFormat +
                 "\" is not \"" + key::kFormatName + "\")");
  m.version =
      static_cast<int>(integer(field(doc, key::kVersion, ""), 0, 1 << 20));
  if (m.version != kModuleFormatVersion)
    fail("", "module format version " + std::to_string(m.version) +
                 "; this runtime reads version " +
                 std::to_string(kModuleFormatVersion) +
                 ": recompile the model with a matching dgc");
  // A module holds code for one or more targets (host.so, cuda.so).
  Field targets = field(doc, key::kTargets, "");
  if (!targets.value.is_object() || targets.value.empty())
    fail(targets.where, "expected an object naming at least one target");
  for (const auto &item : targets.value.items()) {
    std::string where = targets.where + "." + item.key();
    TargetManifest target;
    Field library = field(item.value(), key::kLibrary, where);
    target.library = string(library);
    if (target.library.empty() ||
        target.library.find('/') != std::string::npos || target.library == "..")
      fail(library.where, "expected a file name inside the module");
    if (item.key() == "cuda" || item.value().contains(key::kChip))
      target.chip = string(field(item.value(), key::kChip, where));
    if (item.value().contains(key::kDeviceMemory)) {
      Field flag = field(item.value(), key::kDeviceMemory, where);
      if (!flag.value.is_boolean())
        fail(flag.where, "expected true or false");
      target.deviceMemory = flag.value.get<bool>();
    }
    if (item.value().contains(key::kCpu)) {
      target.cpu = string(field(item.value(), key::kCpu, where));
      Field flags = field(item.value(), key::kCpuFeatures, where);
      if (!flags.value.is_array() || flags.value.size() > 256)
        fail(flags.where, "expected an array of CPU flags");
      for (size_t i = 0; i < flags.value.size(); ++i)
        target.cpuFeatures.push_back(string(
            flags.value[i], flags.where + "[" + std::to_string(i) + "]"));
    }
    m.targets[item.key()] = std::move(target);
  }
  if (auto host = m.targets.find("host"); host != m.targets.end())
    m.library = host->second.library;

  Field model = field(doc, key::kModel, "");
  const json &facts = model.value;
  m.canvasLength = integer(field(model, key::kCanvasLength), 1, 1 << 20);
  m.vocabSize = integer(field(model, key::kVocabSize), 1, 1 << 24);
  m.hiddenSize = integer(field(model, key::kHiddenSize), 1, 1 << 20);
  if (facts.contains(key::kMaxPositions))
    m.maxPositions = integer(field(model, key::kMaxPositions), m.canvasLength,
                             int64_t(1) << 31);
  // The generation defaults compiled in, by the module's names, read as
  // every other source of options is.
  if (facts.contains(key::kGeneration)) {
    Field g = field(model, key::kGeneration);
    if (Status st = readModuleGeneration(g.value, g.where, m.generation); !st)
      throw ManifestError{st.error()};
  }

  if (facts.contains(key::kConfig)) {
    Field config = field(model, key::kConfig);
    if (!config.value.is_object())
      fail(config.where, "expected an object of config.json values");
    for (const auto &item : config.value.items())
      m.configValues[item.key()] = item.value().dump();
  }

  // Images: the vision graph's patch geometry and the prompt's image ids.
  if (facts.contains(key::kVision)) {
    Field v = field(model, key::kVision);
    VisionManifest vision;
    vision.patchSize = integer(field(v, key::kPatchSize), 1, 1 << 12);
    vision.poolingKernel = integer(field(v, key::kPoolingKernel), 1, 1 << 8);
    vision.softTokens = integer(field(v, key::kSoftTokens), 1, 1 << 20);
    Field tokens = field(model, key::kTokens);
    for (auto [name, id] : {std::pair{key::kImageToken, &vision.imageTokenId},
                            std::pair{key::kBoiToken, &vision.boiTokenId},
                            std::pair{key::kEoiToken, &vision.eoiTokenId}})
      *id = integer(field(tokens, name), 0, m.vocabSize - 1);
    m.vision = vision;
  }

  Field weights = field(doc, key::kWeights, "");
  m.weightBytes = integer(field(weights, key::kBytes), 0, int64_t(1) << 40);
  Field tensors = field(weights, key::kTensors);
  if (!tensors.value.is_array())
    fail(tensors.where, "expected an array");
  for (size_t i = 0; i < tensors.value.size(); ++i) {
    const json &tensor = tensors.value[i];
    std::string where = tensors.where + "[" + std::to_string(i) + "]";
    WeightSpec w;
    w.name = string(field(tensor, key::kName, where));
    Field offset = field(tensor, key::kOffset, where);
    w.offset = integer(offset, 0, m.weightBytes);
    // The compiled code's loads assume it (docs/module-format.md).
    if (w.offset % kWeightAlignment != 0)
      fail(offset.where, "expected an offset aligned to " +
                             std::to_string(kWeightAlignment) + " bytes, got " +
                             std::to_string(w.offset));
    w.shape = shape(field(tensor, key::kShape, where), false);
    w.dtype = dtype(field(tensor, key::kDtype, where));
    double bytes = static_cast<double>(dtypeSize(w.dtype));
    for (int64_t d : w.shape)
      bytes *= static_cast<double>(d);
    if (static_cast<double>(w.offset) + bytes >
        static_cast<double>(m.weightBytes))
      fail(where, "tensor '" + w.name + "' ends past the weight arena of " +
                      std::to_string(m.weightBytes) + " bytes");
    m.weights.push_back(std::move(w));
  }
  // Two entries over the same bytes, or one name twice, would have the
  // checkpoint fill one tensor's bytes with another's.
  std::vector<const WeightSpec *> byOffset;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < m.weights.size(); ++i) {
    if (!seen.emplace(m.weights[i].name, i).second)
      fail(tensors.where + "[" + std::to_string(i) + "]",
           "tensor '" + m.weights[i].name + "' is listed twice");
    byOffset.push_back(&m.weights[i]);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const WeightSpec *a, const WeightSpec *b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->offset + byOffset[i - 1]->byteSize() >
        byOffset[i]->offset)
      fail(tensors.where, "tensors '" + byOffset[i - 1]->name + "' and '" +
                              byOffset[i]->name +
                              "' overlap in the weight arena");

  if (doc.contains(key::kKVCache)) {
    Field cache = field(doc, key::kKVCache, "");
    Field pools = field(cache, key::kPools);
    if (!pools.value.is_object())
      fail(pools.where, "expected an object");
    for (const auto &item : pools.value.items()) {
      std::string where = pools.where + "." + item.key();
      const json &p = item.value();
      PoolManifest pool;
      pool.name = item.key();
      Field kind = field(p, key::kKind, where);
      pool.kind = string(kind);
      if (pool.kind != "full" && pool.kind != "sliding")
        fail(kind.where,
             "expected \"full\" or \"sliding\", got \"" + pool.kind + "\"");
      pool.layers = integer(field(p, key::kLayers, where), 1, 1 << 12);
      pool.kvHeads = integer(field(p, key::kKvHeads, where), 1, 1 << 12);
      pool.headDim = integer(field(p, key::kHeadDim, where), 1, 1 << 14);
      Field window = field(p, key::kWindow, where);
      pool.window = integer(window, 0, int64_t(1) << 30);
      pool.dtype = dtype(field(p, key::kDtype, where));
      if ((pool.kind == "sliding") != (pool.window > 0))
        fail(window.where, "a sliding pool has a window > 0, a full "
                           "pool a window of 0");
      m.pools.push_back(std::move(pool));
    }
  }

  Field graphs = field(doc, key::kGraphs, "");
  if (!graphs.value.is_object() || graphs.value.empty())
    fail(graphs.where, "expected a non-empty object");
  for (const auto &item : graphs.value.items()) {
    std::string where = graphs.where + "." + item.key();
    GraphSpec g;
    g.symbol = string(field(item.value(), key::kSymbol, where));
    for (auto [list, specs] : {std::pair{key::kInputs, &g.inputs},
                               std::pair{key::kOutputs, &g.outputs}}) {
      Field entries = field(item.value(), list, where);
      if (!entries.value.is_array() || entries.value.size() > 32)
        fail(entries.where, "expected an array of at most 32 entries");
      for (size_t i = 0; i < entries.value.size(); ++i)
        specs->push_back(tensorSpec(
            entries.value[i], entries.where + "[" + std::to_string(i) + "]"));
    }
    if (g.inputs.empty() || g.inputs[0].name != "weights")
      fail(where + "." + key::kInputs,
           "the first input must be the weight arena");
    m.graphs[item.key()] = std::move(g);
  }
  return m;
}

} // namespace

int64_t WeightSpec::byteSize() const {
  int64_t n = static_cast<int64_t>(dtypeSize(dtype));
  for (int64_t d : shape)
    n *= d;
  return n;
}

Result<Manifest> parseManifest(std::string_view text, const std::string &path) {
  try {
    return parse(text, path);
  } catch (const ManifestError &e) {
    return Error{path + ": " + e.message};
  } catch (const std::exception &e) {
    return Error{path + ": invalid manifest: " + e.what()};
  }
}

Result<TargetManifest> selectTarget(const Manifest &manifest,
                                    const std::string &name) {
  auto it = manifest.targets.find(name);
  if (it != manifest.targets.end())
    return it->second;
  size_t slash = manifest.path.find_last_of('/');
  std::string module = slash == std::string::npos
                           ? std::string("the module")
                           : manifest.path.substr(0, slash);
  std::string compiled;
  for (const auto &[target, spec] : manifest.targets)
    compiled += (compiled.empty() ? "" : ", ") + target;
  return Error{module + " has no " + name +
               " target: compile it with dgc compile --target " + name +
               " (or all); it holds code for " + compiled};
}

} // namespace dgc::runtime
