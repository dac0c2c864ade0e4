//===- GraphCall.cpp - Calling a module's graph, and replaying it ---------===//
//
// A call marshals the inputs into memref descriptors (a frame), runs the
// graph's C entry point, and copies its results out. On the cuda device the
// inputs travel in device memory (managed where the module's host code reads
// them), and callRecorded() records the kernels
// of a call as a CUDA graph to replay on later calls of the same shapes.
//
//===----------------------------------------------------------------------===//

#include "GraphCall.h"

#include "CacheBinding.h"
#include "MemRefABI.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace dgc::runtime {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

/// Calls `fn(args[0], ..., args[n-1])` for a function of n pointer
/// parameters: every parameter of a C-interface entry point is a pointer.
void callWithPointers(void *fn, std::vector<void *> &a) {
  using P = void *;
  switch (a.size()) {
#define DGC_CALL(N, ...)                                                       \
  case N:                                                                      \
    reinterpret_cast<void (*)(__VA_ARGS__)>(fn)
    DGC_CALL(2, P, P)(a[0], a[1]);
    break;
    DGC_CALL(3, P, P, P)(a[0], a[1], a[2]);
    break;
    DGC_CALL(4, P, P, P, P)(a[0], a[1], a[2], a[3]);
    break;
    DGC_CALL(5, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4]);
    break;
    DGC_CALL(6, P, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4], a[5]);
    break;
    DGC_CALL(7, P, P, P, P, P, P, P)(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    break;
    DGC_CALL(8, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    break;
    DGC_CALL(9, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    break;
    DGC_CALL(10, P, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
    break;
    DGC_CALL(11, P, P, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]);
    break;
    DGC_CALL(12, P, P, P, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
    break;
    DGC_CALL(13, P, P, P, P, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
     a[12]);
    break;
    DGC_CALL(14, P, P, P, P, P, P, P, P, P, P, P, P, P, P)
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
     a[12], a[13]);
    break;
#undef DGC_CALL
  }
}

} // namespace

Result<CallFrame> CompiledModule::prepareFrame(const std::string &graphName,
                                               const std::vector<Arg> &inputs,
                                               const PlaceFn &place) const {
  auto it = manifest_.graphs.find(graphName);
  if (it == manifest_.graphs.end())
    return Error{"the module has no graph '" + graphName + "'"};
  const GraphSpec &graph = it->second;
  if (!weightsBound_)
    return Error{"call to '" + graphName + "' before bindWeights"};
  if (inputs.size() + 1 != graph.inputs.size())
    return Error{"graph '" + graphName + "' takes " +
                 std::to_string(graph.inputs.size() - 1) + " inputs, got " +
                 std::to_string(inputs.size())};

  // Results first (a struct of descriptors), then the arena and the inputs.
  CallFrame frame;
  frame.graph = &graph;
  size_t resultWords = 0;
  for (const TensorSpec &out : graph.outputs)
    resultWords += 3 + 2 * out.shape.size();
  frame.results.assign(resultWords, 0);
  frame.descriptors.reserve(2 * inputs.size() + 1);
  frame.args = {frame.results.data()};
  frame.descriptors.push_back(makeDescriptor(arena_, {manifest_.weightBytes}));
  frame.args.push_back(frame.descriptors.back().data());
  frame.inputBuffers = {arena_};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &spec = graph.inputs[i + 1];
    const Arg &arg = inputs[i];
    if (spec.isCache) {
      auto *binding = static_cast<CacheBinding *>(arg.cache);
      if (!binding || !binding->cache)
        return Error{"input '" + spec.name + "' needs a KV cache"};
      if (Status s = checkPool(spec.name, *binding); !s)
        return Error{s.error()};
      const PoolSpec &pool = binding->cache->pools()[binding->pool];
      frame.descriptors.push_back(
          makeDescriptor(binding->cache->poolData(binding->pool),
                         {binding->cache->poolRows(binding->pool),
                          pool.numKvHeads, pool.headDim}));
      frame.args.push_back(frame.descriptors.back().data());
      void *table = binding->table.data();
      size_t bytes = binding->table.size() * sizeof(int64_t);
      if (place) {
        Result<void *> copy =
            place(table, bytes, "the page table of '" + spec.name + "'");
        if (!copy)
          return Error{copy.error()};
        table = *copy;
        frame.placed.push_back({i, true, table, bytes});
      }
      frame.descriptors.push_back(
          makeDescriptor(table, {static_cast<int64_t>(binding->requests.size()),
                                 binding->columns}));
      frame.args.push_back(frame.descriptors.back().data());
      frame.inputBuffers.insert(table);
      continue;
    }
    bool shapeOk = arg.shape.size() == spec.shape.size();
    for (size_t d = 0; shapeOk && d < spec.shape.size(); ++d)
      shapeOk = spec.shape[d] < 0 || spec.shape[d] == arg.shape[d];
    if (!shapeOk)
      return Error{"input '" + spec.name + "' of '" + graphName +
                   "' has shape " + shapeString(arg.shape) + ", expected " +
                   shapeString(spec.shape) + " (-1: any)"};
    const void *data = arg.data;
    if (place) {
      // Kernels cannot read host memory: the input travels in GPU memory.
      size_t bytes = dtypeSize(spec.dtype);
      for (int64_t d : arg.shape)
        bytes *= static_cast<size_t>(d);
      Result<void *> copy = place(arg.data, bytes, "input '" + spec.name + "'");
      if (!copy)
        return Error{copy.error()};
      data = *copy;
      frame.placed.push_back({i, false, *copy, bytes});
    }
    frame.descriptors.push_back(makeDescriptor(data, arg.shape));
    frame.args.push_back(frame.descriptors.back().data());
    frame.inputBuffers.insert(data);
  }
  return frame;
}

Status CompiledModule::copyTablesBack(const CallFrame &frame,
                                      const std::vector<Arg> &inputs) const {
  // The graph has waited for its kernels before returning.
  for (const CallFrame::Placed &p : frame.placed)
    if (p.table)
      if (Status s = fromModuleMemory(
              static_cast<CacheBinding *>(inputs[p.input].cache)->table.data(),
              p.device, p.bytes);
          !s)
        return Error{"the KV-cache table of input " +
                     frame.graph->inputs[p.input + 1].name + ": " + s.error()};
  return Status();
}

Result<std::vector<CompiledModule::Output>>
CompiledModule::collectOutputs(const std::string &graphName,
                               const CallFrame &frame, bool freeResults,
                               uint64_t skippedOutputs) const {
  std::vector<Output> outputs;
  std::set<void *> freed;
  size_t word = 0;
  for (size_t index = 0; index < frame.graph->outputs.size(); ++index) {
    const TensorSpec &spec = frame.graph->outputs[index];
    int64_t rank = static_cast<int64_t>(spec.shape.size());
    DescriptorView view = DescriptorView::of(frame.results.data() + word, rank);
    word += 3 + 2 * rank;
    Output out;
    out.dtype = spec.dtype;
    out.shape.assign(view.sizes, view.sizes + rank);
    int64_t elementBytes = static_cast<int64_t>(dtypeSize(spec.dtype));
    // A skipped output stays where the module wrote it: its shape only.
    bool skipped = index < 64 && (skippedOutputs >> index & 1);
    if (!skipped) {
      out.bytes.resize(view.numElements() * elementBytes);
      if (view.isContiguous()) {
        if (Status s = fromModuleMemory(
                out.bytes.data(), view.data(elementBytes), out.bytes.size());
            !s)
          return Error{"output '" + spec.name + "' of '" + graphName +
                       "': " + s.error()};
      } else {
        std::vector<int64_t> from(frame.results.begin() + word - 3 - 2 * rank,
                                  frame.results.begin() + word);
        // In device memory the strided span comes to the host first.
        std::vector<uint8_t> span;
        if (deviceMemory_ && view.numElements() > 0) {
          int64_t last = 0;
          for (int64_t d = 0; d < rank; ++d)
            last += (view.sizes[d] - 1) * view.strides[d];
          span.resize((last + 1) * elementBytes);
          if (Status s = fromModuleMemory(span.data(), view.data(elementBytes),
                                          span.size());
              !s)
            return Error{"output '" + spec.name + "' of '" + graphName +
                         "': " + s.error()};
          // The copy's descriptor: the span's start, offset 0.
          from[0] = from[1] = reinterpret_cast<int64_t>(span.data());
          from[2] = 0;
        }
        std::vector<int64_t> dst = makeDescriptor(out.bytes.data(), out.shape);
        UnrankedDescriptor source{rank, from.data()};
        UnrankedDescriptor to{rank, dst.data()};
        memrefCopy(elementBytes, &source, &to);
      }
    }
    // The module allocates its results with malloc (a cuda module with
    // mgpuMemAlloc); they are ours to free, unless a recording keeps them.
    if (freeResults && view.allocated &&
        !frame.inputBuffers.count(view.allocated) &&
        freed.insert(view.allocated).second) {
      if (device_ == Device::Cuda && CudaDevice::ownsAllocation(view.allocated))
        mgpuMemFree(view.allocated, nullptr);
      else
        std::free(view.allocated);
    }
    outputs.push_back(std::move(out));
  }
  if (device_ == Device::Cuda)
    if (Status s = CudaDevice::takeError(); !s)
      return Error{"graph '" + graphName +
                   "' on the cuda device: " + s.error()};
  return outputs;
}

Result<std::vector<CompiledModule::Output>>
CompiledModule::call(const std::string &graphName,
                     const std::vector<Arg> &inputs, double *graphSeconds,
                     uint64_t skippedOutputs) const {
  std::unique_ptr<InputCopies> deviceInputs;
  PlaceFn place;
  if (device_ == Device::Cuda) {
    Result<CudaDevice *> gpu = CudaDevice::get();
    if (!gpu)
      return Error{"the cuda device is unavailable: " + gpu.error()};
    deviceInputs = std::make_unique<InputCopies>(**gpu, !deviceMemory_);
    place = [&](const void *data, size_t bytes,
                const std::string &what) -> Result<void *> {
      return deviceInputs->copy(data, bytes, what);
    };
  }
  Result<CallFrame> frame = prepareFrame(graphName, inputs, place);
  if (!frame)
    return Error{frame.error()};
  auto start = std::chrono::steady_clock::now();
  callWithPointers(entries_.at(graphName), frame->args);
  if (graphSeconds)
    *graphSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  if (Status s = copyTablesBack(*frame, inputs); !s)
    return Error{s.error()};
  return collectOutputs(graphName, *frame, /*freeResults=*/true,
                        skippedOutputs);
}

namespace {
/// What a recording depends on besides the input data: the shapes, and for
/// a cache its pool and table sizes.
std::string recordingKey(const std::string &graph,
                         const std::vector<CompiledModule::Arg> &inputs) {
  std::string key = graph;
  for (const CompiledModule::Arg &arg : inputs) {
    key += '|';
    if (auto *binding = static_cast<const CacheBinding *>(arg.cache)) {
      key += "cache " +
             std::to_string(reinterpret_cast<uintptr_t>(
                 binding->cache ? binding->cache->poolData(binding->pool)
                                : nullptr)) +
             " " + std::to_string(binding->requests.size()) + "x" +
             std::to_string(binding->columns);
      continue;
    }
    key += shapeString(arg.shape);
  }
  return key;
}
} // namespace

Result<std::vector<CompiledModule::Output>> CompiledModule::callRecorded(
    const std::string &graphName, const std::vector<Arg> &inputs,
    double *graphSeconds, uint64_t skippedOutputs) const {
  if (device_ != Device::Cuda)
    return call(graphName, inputs, graphSeconds, skippedOutputs);
  Result<CudaDevice *> gpu = CudaDevice::get();
  if (!gpu)
    return Error{"the cuda device is unavailable: " + gpu.error()};
  CudaDevice *device = *gpu;
  if (!device->canRecord())
    return call(graphName, inputs, graphSeconds, skippedOutputs);

  std::string key = recordingKey(graphName, inputs);
  std::unique_ptr<Recorded> &slot = recordings_[graphName];
  if (!slot || slot->key != key) {
    // First sight of these shapes: a plain call loads the kernels and
    // leaves the buffers a recording will reuse.
    slot.reset();
    auto outputs = call(graphName, inputs, graphSeconds, skippedOutputs);
    if (outputs) {
      slot = std::make_unique<Recorded>();
      slot->device = device;
      slot->key = key;
    }
    return outputs;
  }
  Recorded &r = *slot;
  auto start = std::chrono::steady_clock::now();
  bool replaying = r.recording != nullptr;
  if (!replaying) {
    // The inputs live in buffers of the recording's own, which replays
    // refill.
    PlaceFn place = [&](const void *data, size_t bytes,
                        const std::string &what) -> Result<void *> {
      Result<void *> buffer = deviceMemory_ ? device->allocDevice(bytes, what)
                                            : device->allocManaged(bytes, what);
      if (!buffer)
        return Error{buffer.error()};
      r.buffers.push_back(*buffer);
      if (Status s = toModuleMemory(*buffer, data, bytes); !s)
        return Error{what + ": " + s.error()};
      return *buffer;
    };
    Result<CallFrame> frame = prepareFrame(graphName, inputs, place);
    if (!frame) {
      slot.reset();
      return Error{frame.error()};
    }
    r.frame = std::move(*frame);
    if (Status s = device->beginRecording(); !s) {
      slot.reset();
      return Error{"graph '" + graphName + "': " + s.error()};
    }
    callWithPointers(entries_.at(graphName), r.frame.args);
    Result<std::unique_ptr<CudaDevice::Recording>> recording =
        device->endRecording();
    if (!recording) {
      slot.reset();
      (void)CudaDevice::takeError();
      return Error{"graph '" + graphName +
                   "': recording its kernels failed: " + recording.error()};
    }
    r.recording = std::move(*recording);
  } else {
    // Same shapes: refill the inputs in place.
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].cache)
        if (Status s = checkPool(r.frame.graph->inputs[i + 1].name,
                                 *static_cast<CacheBinding *>(inputs[i].cache));
            !s)
          return Error{s.error()};
    for (const CallFrame::Placed &p : r.frame.placed) {
      const void *data =
          p.table
              ? static_cast<CacheBinding *>(inputs[p.input].cache)->table.data()
              : inputs[p.input].data;
      if (Status s = toModuleMemory(p.device, data, p.bytes); !s)
        return Error{"graph '" + graphName + "': " + s.error()};
    }
  }
  if (replaying) // time the graph, not the copies of its inputs
    start = std::chrono::steady_clock::now();
  Status replayed = r.recording->replay();
  if (graphSeconds)
    *graphSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  if (!replayed) {
    slot.reset();
    return Error{"graph '" + graphName +
                 "' on the cuda device (replayed): " + replayed.error()};
  }
  if (Status s = copyTablesBack(r.frame, inputs); !s)
    return Error{s.error()};
  return collectOutputs(graphName, r.frame, /*freeResults=*/false,
                        skippedOutputs);
}

} // namespace dgc::runtime
