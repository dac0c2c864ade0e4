//===- GraphContracts.cpp - The graphs generation calls, as it calls them -===//
//
// The executor passes the encoder, decoder and vision graphs their inputs by
// position and reads their outputs by position. A manifest whose graphs
// differ (an output dropped, inputs swapped, a canvas or vocabulary that
// disagrees with model.*) would make it read past buffers or misread them;
// here each such graph is checked against the contract once, by name, type
// and static dimension, and a mismatch names the manifest field.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Manifest.h"

#include <initializer_list>

namespace dgc::runtime {
namespace {

/// `Compute`: the model's compute type (f32 or bf16).
enum class Kind { I32, F32, Bool, Compute };

/// One tensor of a contract; dimensions < 0 are the batch or a dynamic
/// length, left unchecked.
struct Expected {
  const char *name;
  Kind kind;
  std::vector<int64_t> dims;
};

const char *kindName(Kind kind) {
  switch (kind) {
  case Kind::I32:
    return "i32";
  case Kind::F32:
    return "f32";
  case Kind::Bool:
    return "i1";
  case Kind::Compute:
    return "f32 or bf16";
  }
  return "?";
}

bool matches(Kind kind, DType dtype) {
  switch (kind) {
  case Kind::I32:
    return dtype == DType::I32;
  case Kind::F32:
    return dtype == DType::F32;
  case Kind::Bool:
    return dtype == DType::Bool;
  case Kind::Compute:
    return dtype == DType::F32 || dtype == DType::BF16;
  }
  return false;
}

std::string dimsText(const std::vector<int64_t> &dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

Status checkTensor(const TensorSpec &have, const Expected &want,
                   const std::string &where) {
  if (have.isCache || have.name != want.name)
    return Error{where + ": expected the tensor '" + std::string(want.name) +
                 "', found " +
                 (have.isCache ? "a KV cache" : "'" + have.name + "'")};
  if (!matches(want.kind, have.dtype))
    return Error{where + ": '" + have.name + "' must be " +
                 kindName(want.kind) + ", not " + dtypeName(have.dtype)};
  bool same = have.shape.size() == want.dims.size();
  for (size_t i = 0; same && i < want.dims.size(); ++i)
    same = want.dims[i] < 0 || have.shape[i] == want.dims[i];
  if (!same)
    return Error{where + ": '" + have.name + "' has shape " +
                 dimsText(have.shape) + "; model.* gives " +
                 dimsText(want.dims) + " (-1: any)"};
  return Status();
}

/// The graph's tensor inputs after the weights (`optional` may be absent
/// together, at the end), then only KV caches, each naming a pool; then
/// exactly `outputs`.
Status checkGraph(const Manifest &m, const std::string &name,
                  const std::vector<Expected> &inputs,
                  const std::vector<Expected> &optional,
                  const std::vector<Expected> &outputs) {
  const GraphSpec &graph = m.graphs.at(name);
  std::string where = m.path + ": graphs." + name;
  size_t i = 1;
  // `wants` in turn from input i on.
  auto checkInputs = [&](const std::vector<Expected> &wants) -> Status {
    for (const Expected &want : wants) {
      std::string at = where + ".inputs[" + std::to_string(i) + "]";
      if (i >= graph.inputs.size())
        return Error{at + ": missing; expected '" + want.name + "'"};
      if (Status s = checkTensor(graph.inputs[i++], want, at); !s)
        return s;
    }
    return Status();
  };
  if (Status s = checkInputs(inputs); !s)
    return s;
  if (!optional.empty() && i < graph.inputs.size() && !graph.inputs[i].isCache)
    if (Status s = checkInputs(optional); !s)
      return s;
  for (; i < graph.inputs.size(); ++i) {
    std::string at = where + ".inputs[" + std::to_string(i) + "]";
    const TensorSpec &input = graph.inputs[i];
    if (!input.isCache)
      return Error{at + ": unexpected input '" + input.name +
                   "' (only KV caches follow)"};
    bool known = false;
    for (const PoolManifest &pool : m.pools)
      known = known || pool.name == input.name;
    if (!known)
      return Error{at + ": the KV cache '" + input.name +
                   "' is not one of kv_cache.pools"};
  }
  if (graph.outputs.size() != outputs.size())
    return Error{where + ".outputs: " + std::to_string(graph.outputs.size()) +
                 " outputs; the runtime reads " +
                 std::to_string(outputs.size())};
  for (size_t o = 0; o < outputs.size(); ++o)
    if (Status s = checkTensor(graph.outputs[o], outputs[o],
                               where + ".outputs[" + std::to_string(o) + "]");
        !s)
      return s;
  return Status();
}

} // namespace

Status checkGenerationGraphs(const Manifest &m) {
  for (const char *graph : {"encoder", "decoder"})
    if (!m.graphs.count(graph))
      return Error{m.path + ": graphs: no '" + graph +
                   "' graph; generation needs the encoder and the decoder "
                   "(was the module compiled from a model config?)"};
  const int64_t c = m.canvasLength, v = m.vocabSize, h = m.hiddenSize;
  const Kind I = Kind::I32, F = Kind::F32, B = Kind::Bool, X = Kind::Compute;
  if (Status s = checkGraph(
          m, "encoder", {{"tokens", I, {-1, -1}}, {"positions", I, {-1, -1}}},
          {{"soft_tokens", X, {-1, -1, h}},
           {"soft_token_mask", X, {-1, -1}},
           {"image_spans", I, {-1, -1, 2}}},
          {{"hidden_states", X, {-1, -1, h}}});
      !s)
    return s;
  // The sampler's candidates: as many as the module keeps (64 by default).
  const GraphSpec &decoder = m.graphs.at("decoder");
  int64_t k = decoder.outputs.size() > 2 && decoder.outputs[2].shape.size() == 3
                  ? decoder.outputs[2].shape[2]
                  : -1;
  if (k == 0 || k > v)
    return Error{m.path + ": graphs.decoder.outputs[2]: " + std::to_string(k) +
                 " candidates per position; expected 1 to model.vocab_size (" +
                 std::to_string(v) + ")"};
  if (Status s = checkGraph(m, "decoder",
                            {{"canvas_tokens", I, {-1, c}},
                             {"committed_lengths", I, {-1}},
                             {"sc_soft", X, {-1, c, h}},
                             {"sc_enabled", B, {-1}},
                             {"temperature", F, {-1}},
                             {"draw_seeds", I, {-1, c}}},
                            {},
                            {{"scaled_logits", X, {-1, c, v}},
                             {"argmax", I, {-1, c}},
                             {"topk_probs", F, {-1, c, k}},
                             {"topk_ids", I, {-1, c, k}},
                             {"entropy", F, {-1, c}},
                             {"sample", I, {-1, c}},
                             {"sc_soft_out", X, {-1, c, h}}});
      !s)
    return s;
  if (m.vision && m.graphs.count("vision")) {
    const VisionManifest &vision = *m.vision;
    int64_t patches =
        vision.softTokens * vision.poolingKernel * vision.poolingKernel;
    int64_t values = 3 * vision.patchSize * vision.patchSize;
    if (Status s =
            checkGraph(m, "vision",
                       {{"pixel_patches", X, {-1, patches, values}},
                        {"patch_positions", I, {-1, patches, 2}}},
                       {}, {{"soft_tokens", X, {-1, vision.softTokens, h}}});
        !s)
      return s;
  }
  return Status();
}

} // namespace dgc::runtime
