//===- CheckpointConfig.cpp - A checkpoint's config.json against a module -===//
//
// The graphs bake in the config they were compiled from: norm epsilons,
// softcaps, RoPE thetas, windows, token ids. Weights trained with other
// values bind without complaint (the shapes agree) and compute quietly wrong
// text. The module records the config values its graphs were built from
// (model.config, by JSON path); a checkpoint's own config.json must agree on
// each of them that it states.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

#include "dgc/runtime/Files.h"

#include "StrictJson.h"

namespace dgc::runtime {
namespace {

/// The value at `path` ("text_config.layer_types[3]"), or nullptr when the
/// document does not state it.
const nlohmann::json *lookUp(const nlohmann::json &doc,
                             const std::string &path) {
  const nlohmann::json *node = &doc;
  size_t i = 0;
  while (i < path.size() && node) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos || !node->is_array())
        return nullptr;
      size_t index = std::strtoull(path.c_str() + i + 1, nullptr, 10);
      node = index < node->size() ? &(*node)[index] : nullptr;
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end == std::string::npos ? end : end - i);
    if (!node->is_object())
      return nullptr;
    auto it = node->find(key);
    node = it == node->end() || it->is_null() ? nullptr : &*it;
    i = end == std::string::npos ? path.size() : end;
  }
  return node;
}

/// Numbers agree by value (1e-06 and 0.000001, 30 and 30.0).
bool same(const nlohmann::json &a, const nlohmann::json &b) {
  if (a.is_number() && b.is_number())
    return a.get<double>() == b.get<double>();
  return a == b;
}

} // namespace

Status checkCheckpointConfig(const Manifest &manifest,
                             const std::string &directory) {
  std::string path = directory + "/config.json";
  if (manifest.configValues.empty() || !fileExists(path))
    return Status();
  Result<std::string> text = readRegularFile(path, uint64_t(16) << 20);
  if (!text)
    return Error{text.error()};
  std::string problem;
  std::optional<nlohmann::json> doc =
      parseStrictJson(*text, 64, "key", problem);
  if (!doc)
    return Error{path + ": " + problem};
  for (const auto &[key, compiled] : manifest.configValues) {
    const nlohmann::json *stated = lookUp(*doc, key);
    if (!stated)
      continue;
    nlohmann::json want = nlohmann::json::parse(compiled, nullptr, false);
    if (!same(*stated, want))
      return Error{path + ": " + key + " is " + showJson(*stated) +
                   "; the module was compiled for " + showJson(want) +
                   ", and its graphs depend on it (compile the module from "
                   "this checkpoint's config.json)"};
  }
  return Status();
}

} // namespace dgc::runtime
