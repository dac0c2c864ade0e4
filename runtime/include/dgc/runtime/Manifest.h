//===- Manifest.h - The manifest of a compiled dgc module -------*- C++ -*-===//
//
// manifest.json names the graphs and their C entry points, the inputs and
// outputs of each, the weight arena's layout, and the KV-cache pools. See
// docs/module-format.md.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_MANIFEST_H
#define DGC_RUNTIME_MANIFEST_H

#include "dgc/runtime/Safetensors.h"

#include <map>
#include <string>
#include <vector>

namespace dgc::runtime {

/// The format version this runtime reads.
constexpr int kModuleFormatVersion = 1;

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape; // -1 for a dynamic dimension
  bool isCache = false;       // a kv_cache input (an opaque handle)
};

struct GraphSpec {
  std::string symbol;
  std::vector<TensorSpec> inputs; // the first is the weight arena
  std::vector<TensorSpec> outputs;
};

struct WeightSpec {
  std::string name;
  int64_t offset = 0;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  int64_t byteSize() const;
};

struct PoolManifest {
  std::string name; // the graphs' input name, e.g. kv_cache_sliding
  std::string kind;
  int64_t layers = 0, kvHeads = 0, headDim = 0, window = 0;
  DType dtype = DType::F32;
};

struct Manifest {
  std::string path;
  int version = 0;
  std::string library;
  int64_t canvasLength = 0, vocabSize = 0, hiddenSize = 0;
  int64_t weightBytes = 0;
  std::vector<WeightSpec> weights;
  std::vector<PoolManifest> pools;
  std::map<std::string, GraphSpec> graphs;
};

/// Parses manifest.json text; `path` names it in errors.
Result<Manifest> parseManifest(std::string_view text, const std::string &path);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_MANIFEST_H
