//===- Manifest.cpp - Parsing and checking manifest.json ------------------===//

#include "dgc/runtime/Manifest.h"

#include "GenerationJson.h"
#include "StrictJson.h"

#include <nlohmann/json.hpp>

#include <algorithm>

using nlohmann::json;

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

TensorSpec tensorSpec(const json &value, const std::string &where) {
  TensorSpec t;
  t.name = string(member(value, "name", where), where + ".name");
  if (value.contains("kind")) {
    if (string(value["kind"], where + ".kind") != "kv_cache")
      fail(where + ".kind", "expected \"kv_cache\"");
    t.isCache = true;
    return t;
  }
  t.dtype = dtype(member(value, "dtype", where), where + ".dtype");
  t.shape = shape(member(value, "shape", where), where + ".shape", true);
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
  if (!doc.is_object() || doc.value("format", "") != "dgc-module")
    fail("", "not a dgc module manifest (\"format\" is not \"dgc-module\")");
  m.version = static_cast<int>(
      integer(member(doc, "version", ""), "version", 0, 1 << 20));
  if (m.version != kModuleFormatVersion)
    fail("", "module format version " + std::to_string(m.version) +
                 "; this runtime reads version " +
                 std::to_string(kModuleFormatVersion) +
                 ": recompile the model with a matching dgc");
  // A module holds code for one or more targets (host.so, cuda.so).
  const json &targets = member(doc, "targets", "");
  if (!targets.is_object() || targets.empty())
    fail("targets", "expected an object naming at least one target");
  for (const auto &item : targets.items()) {
    std::string where = "targets." + item.key();
    TargetManifest target;
    target.library =
        string(member(item.value(), "library", where), where + ".library");
    if (target.library.empty() ||
        target.library.find('/') != std::string::npos || target.library == "..")
      fail(where + ".library", "expected a file name inside the module");
    if (item.key() == "cuda" || item.value().contains("chip"))
      target.chip =
          string(member(item.value(), "chip", where), where + ".chip");
    if (item.value().contains("device_memory")) {
      const json &flag = item.value()["device_memory"];
      if (!flag.is_boolean())
        fail(where + ".device_memory", "expected true or false");
      target.deviceMemory = flag.get<bool>();
    }
    if (item.value().contains("cpu")) {
      target.cpu = string(item.value()["cpu"], where + ".cpu");
      const json &flags = member(item.value(), "cpu_features", where);
      if (!flags.is_array() || flags.size() > 256)
        fail(where + ".cpu_features", "expected an array of CPU flags");
      for (size_t i = 0; i < flags.size(); ++i)
        target.cpuFeatures.push_back(string(
            flags[i], where + ".cpu_features[" + std::to_string(i) + "]"));
    }
    m.targets[item.key()] = std::move(target);
  }
  if (auto host = m.targets.find("host"); host != m.targets.end())
    m.library = host->second.library;

  const json &model = member(doc, "model", "");
  m.canvasLength = integer(member(model, "canvas_length", "model"),
                           "model.canvas_length", 1, 1 << 20);
  m.vocabSize = integer(member(model, "vocab_size", "model"),
                        "model.vocab_size", 1, 1 << 24);
  m.hiddenSize = integer(member(model, "hidden_size", "model"),
                         "model.hidden_size", 1, 1 << 20);
  if (model.contains("max_positions"))
    m.maxPositions =
        integer(model["max_positions"], "model.max_positions", m.canvasLength,
                int64_t(1) << 31);
  // The generation defaults compiled in, by the module's names, read as
  // every other source of options is.
  if (auto g = model.find("generation"); g != model.end())
    if (Status st = readModuleGeneration(*g, "model.generation", m.generation);
        !st)
      throw ManifestError{st.error()};

  if (auto config = model.find("config"); config != model.end()) {
    if (!config->is_object())
      fail("model.config", "expected an object of config.json values");
    for (const auto &item : config->items())
      m.configValues[item.key()] = item.value().dump();
  }

  // Images: the vision graph's patch geometry and the prompt's image ids.
  if (auto v = model.find("vision"); v != model.end()) {
    VisionManifest vision;
    vision.patchSize = integer(member(*v, "patch_size", "model.vision"),
                               "model.vision.patch_size", 1, 1 << 12);
    vision.poolingKernel =
        integer(member(*v, "pooling_kernel", "model.vision"),
                "model.vision.pooling_kernel", 1, 1 << 8);
    vision.softTokens = integer(member(*v, "soft_tokens", "model.vision"),
                                "model.vision.soft_tokens", 1, 1 << 20);
    const json &tokens = member(model, "tokens", "model");
    for (auto [key, field] :
         {std::pair{"image", &vision.imageTokenId},
          std::pair{"boi", &vision.boiTokenId},
          std::pair{"eoi", &vision.eoiTokenId}})
      *field = integer(member(tokens, key, "model.tokens"),
                       std::string("model.tokens.") + key, 0, m.vocabSize - 1);
    m.vision = vision;
  }

  const json &weights = member(doc, "weights", "");
  m.weightBytes = integer(member(weights, "bytes", "weights"), "weights.bytes",
                          0, int64_t(1) << 40);
  const json &tensors = member(weights, "tensors", "weights");
  if (!tensors.is_array())
    fail("weights.tensors", "expected an array");
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string where = "weights.tensors[" + std::to_string(i) + "]";
    WeightSpec w;
    w.name = string(member(tensors[i], "name", where), where + ".name");
    w.offset = integer(member(tensors[i], "offset", where), where + ".offset",
                       0, m.weightBytes);
    // The compiled code's loads assume it (docs/module-format.md).
    if (w.offset % kWeightAlignment != 0)
      fail(where + ".offset", "expected an offset aligned to " +
                                  std::to_string(kWeightAlignment) +
                                  " bytes, got " + std::to_string(w.offset));
    w.shape =
        shape(member(tensors[i], "shape", where), where + ".shape", false);
    w.dtype = dtype(member(tensors[i], "dtype", where), where + ".dtype");
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
      fail("weights.tensors[" + std::to_string(i) + "]",
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
      fail("weights.tensors",
           "tensors '" + byOffset[i - 1]->name + "' and '" + byOffset[i]->name +
               "' overlap in the weight arena");

  if (doc.contains("kv_cache")) {
    const json &pools = member(doc["kv_cache"], "pools", "kv_cache");
    if (!pools.is_object())
      fail("kv_cache.pools", "expected an object");
    for (const auto &item : pools.items()) {
      std::string where = "kv_cache.pools." + item.key();
      const json &p = item.value();
      PoolManifest pool;
      pool.name = item.key();
      pool.kind = string(member(p, "kind", where), where + ".kind");
      if (pool.kind != "full" && pool.kind != "sliding")
        fail(where + ".kind",
             "expected \"full\" or \"sliding\", got \"" + pool.kind + "\"");
      pool.layers =
          integer(member(p, "layers", where), where + ".layers", 1, 1 << 12);
      pool.kvHeads = integer(member(p, "kv_heads", where), where + ".kv_heads",
                             1, 1 << 12);
      pool.headDim = integer(member(p, "head_dim", where), where + ".head_dim",
                             1, 1 << 14);
      pool.window = integer(member(p, "window", where), where + ".window", 0,
                            int64_t(1) << 30);
      pool.dtype = dtype(member(p, "dtype", where), where + ".dtype");
      if ((pool.kind == "sliding") != (pool.window > 0))
        fail(where + ".window", "a sliding pool has a window > 0, a full "
                                "pool a window of 0");
      m.pools.push_back(std::move(pool));
    }
  }

  const json &graphs = member(doc, "graphs", "");
  if (!graphs.is_object() || graphs.empty())
    fail("graphs", "expected a non-empty object");
  for (const auto &item : graphs.items()) {
    std::string where = "graphs." + item.key();
    GraphSpec g;
    g.symbol = string(member(item.value(), "symbol", where), where + ".symbol");
    for (const char *list : {"inputs", "outputs"}) {
      const json &specs = member(item.value(), list, where);
      if (!specs.is_array() || specs.size() > 32)
        fail(where + "." + list, "expected an array of at most 32 entries");
      for (size_t i = 0; i < specs.size(); ++i) {
        TensorSpec t = tensorSpec(specs[i], where + "." + list + "[" +
                                                std::to_string(i) + "]");
        (std::string(list) == "inputs" ? g.inputs : g.outputs).push_back(t);
      }
    }
    if (g.inputs.empty() || g.inputs[0].name != "weights")
      fail(where + ".inputs", "the first input must be the weight arena");
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
