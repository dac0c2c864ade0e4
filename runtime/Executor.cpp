//===- Executor.cpp - Encoder and decoder passes over the paged cache -----===//
//
// Binds a batch of requests' KV-cache pages to a graph call and keeps the
// committed lengths: an encoder pass commits what it wrote.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"

#include "CacheBinding.h"
#include "GraphCall.h"

#include <algorithm>
#include <cmath>

namespace dgc::runtime {

Result<std::vector<CompiledModule::Output>>
Executor::run(const std::string &graph,
              std::vector<CompiledModule::Arg> tensors,
              const std::vector<RequestId> &requests, uint64_t skippedOutputs) {
  const Manifest &m = module_.manifest();
  const GraphSpec &spec = m.graphs.at(graph);
  if (checkFinite_)
    skippedOutputs = 0;
  // The graph's inputs in manifest order: the given tensors in turn, and a
  // binding of the named pool to this batch for each cache input.
  std::vector<CacheBinding> bindings(m.pools.size());
  std::vector<CompiledModule::Arg> inputs;
  size_t nextTensor = 0;
  for (size_t i = 1; i < spec.inputs.size(); ++i) {
    if (!spec.inputs[i].isCache) {
      if (nextTensor == tensors.size())
        return Error{"graph '" + graph + "' takes more tensor inputs"};
      inputs.push_back(std::move(tensors[nextTensor++]));
      continue;
    }
    Result<int64_t> pool = cache_.poolIndex(spec.inputs[i].name);
    if (!pool)
      return Error{pool.error()};
    CacheBinding &binding = bindings[*pool];
    binding.cache = &cache_;
    binding.pool = *pool;
    binding.requests = requests;
    if (Status s = binding.prepare(); !s)
      return Error{"graph '" + graph + "': KV cache: " + s.error()};
    CompiledModule::Arg arg;
    arg.cache = &binding;
    inputs.push_back(std::move(arg));
  }
  Result<std::vector<CompiledModule::Output>> outputs = Error{""};
  if (recordedSteps_ && graph == "decoder") {
    outputs =
        module_.callRecorded(graph, inputs, &graphSeconds_, skippedOutputs);
    if (!outputs) {
      // Replaying is only faster: after a failure, steps are launched. A
      // step writes only scratch rows, which the plain call writes again;
      // the tables are as prepared (only a successful call copies back).
      recordedSteps_ = false;
      recordingProblem_ = outputs.error();
      outputs = module_.call(graph, inputs, &graphSeconds_, skippedOutputs);
    }
  } else {
    outputs = module_.call(graph, inputs, &graphSeconds_, skippedOutputs);
  }
  if (!outputs)
    return outputs;
  for (const CacheBinding &binding : bindings)
    if (binding.cache)
      if (Status s = binding.rejectedWrites(); !s)
        return Error{"graph '" + graph + "': KV cache: " + s.error()};
  if (checkFinite_)
    for (size_t o = 0; o < outputs->size(); ++o) {
      const CompiledModule::Output &out = (*outputs)[o];
      if (out.dtype != DType::F32 && out.dtype != DType::BF16)
        continue;
      std::vector<float> values = out.floats();
      for (size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
          return Error{"graph '" + graph + "' output '" + spec.outputs[o].name +
                       "' " + shapeString(out.shape) + " is not finite: " +
                       std::to_string(values[i]) + " at element " +
                       std::to_string(i) +
                       " (the first non-finite output of this run)"};
    }
  return outputs;
}

namespace {
/// `values` in the element type of graph input `spec` (f32 or bf16).
const void *inComputeType(const TensorSpec &spec,
                          const std::vector<float> &values,
                          std::vector<uint16_t> &bf16) {
  if (spec.dtype != DType::BF16)
    return values.data();
  bf16.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    bf16[i] = floatToBF16(values[i]);
  return bf16.data();
}
} // namespace

Result<CompiledModule::Output> Executor::encode(
    const std::vector<RequestId> &requests, const std::vector<int32_t> &tokens,
    const std::vector<int32_t> &positions, const EncoderImages *images) {
  const Manifest &m = module_.manifest();
  int64_t batch = static_cast<int64_t>(requests.size());
  if (batch == 0 || tokens.size() != positions.size() ||
      tokens.size() % batch != 0)
    return Error{"encode: tokens and positions must be [requests, T]"};
  int64_t t = static_cast<int64_t>(tokens.size()) / batch;
  std::vector<CompiledModule::Arg> args = {{tokens.data(), {batch, t}},
                                           {positions.data(), {batch, t}}};
  // A model with images takes soft tokens, their mask and the image spans;
  // a pass without images gives none (zeros, empty spans).
  const GraphSpec &spec = m.graphs.at("encoder");
  EncoderImages none;
  std::vector<uint16_t> softBF16, maskBF16;
  if (spec.inputs.size() > 3 && spec.inputs[3].name == "soft_tokens") {
    int64_t h = m.hiddenSize;
    if (!images) {
      none.softTokens.assign(batch * t * h, 0.0f);
      none.mask.assign(batch * t, 0.0f);
      none.spans.assign(batch * t * 2, 0);
      for (size_t i = 1; i < none.spans.size(); i += 2)
        none.spans[i] = -1;
      images = &none;
    }
    if (static_cast<int64_t>(images->softTokens.size()) != batch * t * h ||
        static_cast<int64_t>(images->mask.size()) != batch * t ||
        static_cast<int64_t>(images->spans.size()) != batch * t * 2)
      return Error{"encode: image inputs must be soft tokens [B, T, " +
                   std::to_string(h) + "], mask [B, T] and spans [B, T, 2]"};
    args.push_back({inComputeType(spec.inputs[3], images->softTokens, softBF16),
                    {batch, t, h}});
    args.push_back(
        {inComputeType(spec.inputs[4], images->mask, maskBF16), {batch, t}});
    if (spec.inputs.size() > 5 && spec.inputs[5].name == "image_spans")
      args.push_back({images->spans.data(), {batch, t, 2}});
  } else if (images) {
    return Error{"encode: this module's encoder takes no images"};
  }
  auto outputs = run("encoder", std::move(args), requests);
  if (!outputs)
    return Error{outputs.error()};
  // The encoder's writes are commits: each request now ends at its last
  // position.
  for (int64_t b = 0; b < batch; ++b) {
    int32_t last = *std::max_element(positions.begin() + b * t,
                                     positions.begin() + (b + 1) * t);
    Result<int64_t> committed = cache_.committedLength(requests[b]);
    if (committed && last + 1 > *committed)
      if (Status s = cache_.commit(requests[b], last + 1); !s)
        return Error{s.error()};
  }
  return std::move((*outputs)[0]);
}

Result<Executor::Step> Executor::decode(const std::vector<RequestId> &requests,
                                        const std::vector<int32_t> &canvas,
                                        const std::vector<float> &scSoft,
                                        const std::vector<uint8_t> &scEnabled,
                                        const std::vector<float> &temperatures,
                                        const std::vector<int32_t> &drawSeeds,
                                        bool wantLogits) {
  const Manifest &m = module_.manifest();
  int64_t batch = static_cast<int64_t>(requests.size());
  int64_t c = m.canvasLength, h = m.hiddenSize;
  if (batch == 0 || static_cast<int64_t>(canvas.size()) != batch * c ||
      static_cast<int64_t>(scSoft.size()) != batch * c * h ||
      static_cast<int64_t>(scEnabled.size()) != batch ||
      static_cast<int64_t>(temperatures.size()) != batch ||
      (!drawSeeds.empty() &&
       static_cast<int64_t>(drawSeeds.size()) != batch * c))
    return Error{"decode: expected canvas [B, " + std::to_string(c) +
                 "], sc_soft [B, " + std::to_string(c) + ", " +
                 std::to_string(h) +
                 "], sc_enabled and temperature [B], draw_seeds [B, " +
                 std::to_string(c) + "] or none"};
  std::vector<int32_t> zeroSeeds;
  if (drawSeeds.empty())
    zeroSeeds.assign(batch * c, 0);
  std::vector<int32_t> committed;
  for (RequestId id : requests) {
    Result<int64_t> length = cache_.committedLength(id);
    if (!length)
      return Error{length.error()};
    committed.push_back(static_cast<int32_t>(*length));
  }
  const GraphSpec &graph = m.graphs.at("decoder");
  std::vector<uint16_t> softBF16;
  auto outputs = run(
      "decoder",
      {{canvas.data(), {batch, c}},
       {committed.data(), {batch}},
       {inComputeType(graph.inputs[3], scSoft, softBF16), {batch, c, h}},
       {scEnabled.data(), {batch}},
       {temperatures.data(), {batch}},
       {drawSeeds.empty() ? zeroSeeds.data() : drawSeeds.data(), {batch, c}}},
      requests, wantLogits ? 0 : uint64_t{1} << 0 /* scaled_logits */);
  if (!outputs)
    return Error{outputs.error()};
  auto &o = *outputs;
  return Step{std::move(o[0]), std::move(o[1]), std::move(o[2]),
              std::move(o[3]), std::move(o[4]), std::move(o[5]),
              std::move(o[6])};
}

} // namespace dgc::runtime
