//===- HostModule.cpp - Loading and calling a host module -----------------===//

#include "dgc/runtime/HostModule.h"

#include "CacheBinding.h"
#include "CudaDriver.h"
#include "MemRefABI.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace dgc::runtime {
namespace {

constexpr size_t kArenaAlignment = 64;
/// The most pointers callWithPointers passes.
constexpr int kMaxArgs = 14;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

using Entry = void (*)(void *, ...);

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

HostModule::HostModule(HostModule &&other) noexcept {
  *this = std::move(other);
}

HostModule &HostModule::operator=(HostModule &&other) noexcept {
  std::swap(manifest_, other.manifest_);
  std::swap(library_, other.library_);
  std::swap(entries_, other.entries_);
  std::swap(arenaStorage_, other.arenaStorage_);
  std::swap(arena_, other.arena_);
  std::swap(weightsBound_, other.weightsBound_);
  std::swap(device_, other.device_);
  std::swap(deviceArena_, other.deviceArena_);
  return *this;
}

HostModule::~HostModule() {
  if (library_)
    dlclose(library_);
  // The device exists: the arena came from it, and get() caches success.
  if (deviceArena_)
    if (Result<CudaDevice *> gpu = CudaDevice::get())
      (*gpu)->freeManaged(deviceArena_);
}

Result<Device> parseDevice(const std::string &name) {
  if (name == "host")
    return Device::Host;
  if (name == "cuda")
    return Device::Cuda;
  return Error{"unknown device '" + name + "'; expected host or cuda"};
}

const char *deviceName(Device device) {
  return device == Device::Cuda ? "cuda" : "host";
}

std::vector<float> HostModule::Output::floats() const {
  size_t n = bytes.size() / dtypeSize(dtype);
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) {
    if (dtype == DType::BF16) {
      uint16_t bits;
      std::memcpy(&bits, bytes.data() + 2 * i, 2);
      values[i] = bf16ToFloat(bits);
    } else {
      values[i] = f32()[i];
    }
  }
  return values;
}

Result<HostModule> HostModule::load(const std::string &directory,
                                    Device device) {
  std::string manifestPath = directory + "/manifest.json";
  std::ifstream in(manifestPath, std::ios::binary);
  if (!in)
    return Error{manifestPath + ": cannot open the module manifest (is " +
                 directory + " a module written by dgc compile?)"};
  std::stringstream text;
  text << in.rdbuf();
  Result<Manifest> manifest = parseManifest(text.str(), manifestPath);
  if (!manifest)
    return Error{manifest.error()};
  HostModule module;
  module.manifest_ = std::move(*manifest);
  module.device_ = device;
  Result<TargetManifest> target =
      selectTarget(module.manifest_, deviceName(device));
  if (!target)
    return Error{target.error()};
  // Then the GPU: without a driver or a GPU nothing else matters.
  CudaDevice *gpu = nullptr;
  if (device == Device::Cuda) {
    Result<CudaDevice *> opened = CudaDevice::get();
    if (!opened)
      return Error{"the cuda device is unavailable: " + opened.error()};
    gpu = *opened;
  }
  if (gpu)
    if (std::string problem = gpu->chipProblem(target->chip); !problem.empty())
      return Error{directory + ": " + problem};
  // The results, then each input, a cache as its pool and its table.
  for (const auto &[name, graph] : module.manifest_.graphs) {
    size_t pointers = 1 + graph.inputs.size();
    for (const TensorSpec &input : graph.inputs)
      pointers += input.isCache;
    if (pointers > static_cast<size_t>(kMaxArgs))
      return Error{manifestPath + ": graph '" + name + "' takes " +
                   std::to_string(pointers) +
                   " pointers (results, inputs, a pool and a table per "
                   "cache); this runtime passes at most " +
                   std::to_string(kMaxArgs)};
  }
  std::string library = directory + "/" + target->library;
  module.library_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module.library_)
    return Error{library + ": cannot load the host code: " + dlerror()};
  // Its constructors may already have loaded kernels.
  if (gpu)
    if (Status s = CudaDevice::takeError(); !s)
      return Error{library + ": " + s.error()};
  for (const auto &[name, graph] : module.manifest_.graphs) {
    void *entry = dlsym(module.library_, graph.symbol.c_str());
    if (!entry)
      return Error{library + ": graph '" + name + "' has no entry point '" +
                   graph.symbol + "'"};
    module.entries_[name] = entry;
  }
  uintptr_t base;
  if (gpu) {
    // Kernels read the weights: the arena is managed memory.
    Result<void *> arena = gpu->allocManaged(
        module.manifest_.weightBytes + kArenaAlignment, "the weight arena");
    if (!arena)
      return Error{arena.error()};
    module.deviceArena_ = *arena;
    base = reinterpret_cast<uintptr_t>(*arena);
  } else {
    module.arenaStorage_.resize(module.manifest_.weightBytes + kArenaAlignment);
    base = reinterpret_cast<uintptr_t>(module.arenaStorage_.data());
  }
  module.arena_ = reinterpret_cast<uint8_t *>((base + kArenaAlignment - 1) &
                                              ~(kArenaAlignment - 1));
  return module;
}

Status HostModule::bindWeights(const Checkpoint &checkpoint) {
  for (const WeightSpec &w : manifest_.weights) {
    Result<Tensor> tensor = checkpoint.get(w.name);
    if (!tensor)
      return Error{"the checkpoint in " + checkpoint.directory() +
                   " does not match the module: " + tensor.error()};
    if (tensor->shape() != w.shape)
      return Error{"tensor '" + w.name + "' has shape " +
                   shapeString(tensor->shape()) +
                   " in the checkpoint; the "
                   "module was compiled for " +
                   shapeString(w.shape)};
    uint8_t *dst = arena_ + w.offset;
    int64_t n = tensor->numElements();
    if (w.dtype == DType::F32) {
      Result<int64_t> copied =
          copyToFloat32(*tensor, reinterpret_cast<float *>(dst), n);
      if (!copied)
        return Error{copied.error()};
    } else if (w.dtype == DType::BF16) {
      if (tensor->dtype() == DType::BF16) {
        std::memcpy(dst, tensor->data, tensor->byteSize());
      } else {
        Result<std::vector<float>> values = toFloat32(*tensor);
        if (!values)
          return Error{values.error()};
        auto *out = reinterpret_cast<uint16_t *>(dst);
        for (int64_t i = 0; i < n; ++i)
          out[i] = floatToBF16((*values)[i]);
      }
    } else {
      return Error{"tensor '" + w.name + "': the module wants " +
                   dtypeName(w.dtype) +
                   " weights, which this runtime cannot "
                   "convert to"};
    }
  }
  weightsBound_ = true;
  return placeArenaOnDevice();
}

std::vector<PoolSpec> HostModule::poolSpecs() const {
  std::vector<PoolSpec> pools;
  for (const PoolManifest &p : manifest_.pools)
    pools.push_back(PoolSpec{p.name, p.layers, p.kvHeads, p.headDim, p.window,
                             static_cast<int>(dtypeSize(p.dtype))});
  return pools;
}

Result<KVCache> HostModule::createCache(int64_t pageSize,
                                        int64_t pagesPerPool) const {
  return createCache(pageSize,
                     std::vector<int64_t>(manifest_.pools.size(), pagesPerPool));
}

Result<KVCache> HostModule::createCache(int64_t pageSize,
                                        std::vector<int64_t> pages) const {
  PoolMemory memory;
  if (device_ == Device::Cuda) {
    // Kernels read and write the pages: managed memory.
    Result<CudaDevice *> gpu = CudaDevice::get();
    if (!gpu)
      return Error{"the cuda device is unavailable: " + gpu.error()};
    CudaDevice *device = *gpu;
    memory.allocate = [device](size_t bytes) -> void * {
      Result<void *> p = device->allocManaged(bytes, "KV-cache pages");
      return p ? *p : nullptr;
    };
    memory.release = [device](void *p) { device->freeManaged(p); };
  }
  return KVCache::create(pageSize, poolSpecs(), std::move(pages),
                         std::move(memory));
}

Status HostModule::checkPool(const std::string &name,
                             const CacheBinding &binding) const {
  const PoolSpec &have = binding.cache->pools().at(binding.pool);
  for (const PoolManifest &want : manifest_.pools) {
    if (want.name != name)
      continue;
    if (have.numLayers != want.layers || have.numKvHeads != want.kvHeads ||
        have.headDim != want.headDim ||
        have.elementBytes != static_cast<int>(dtypeSize(want.dtype)))
      return Error{"KV-cache pool '" + name +
                   "' does not have the module's geometry (a cache from "
                   "another module?)"};
    if (static_cast<int64_t>(binding.requests.size()) * binding.columns !=
        static_cast<int64_t>(binding.table.size()))
      return Error{"KV-cache pool '" + name + "': the binding is not prepared"};
    return {};
  }
  return Error{"the module has no KV-cache pool '" + name + "'"};
}

Result<std::vector<HostModule::Output>>
HostModule::call(const std::string &graphName, const std::vector<Arg> &inputs,
                 double *graphSeconds) const {
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
  size_t resultWords = 0;
  for (const TensorSpec &out : graph.outputs)
    resultWords += 3 + 2 * out.shape.size();
  std::vector<int64_t> results(resultWords, 0);
  std::vector<std::vector<int64_t>> descriptors;
  descriptors.reserve(inputs.size() + 1);
  std::vector<void *> args = {results.data()};
  descriptors.push_back(makeDescriptor(arena_, {manifest_.weightBytes}));
  args.push_back(descriptors.back().data());
  std::set<const void *> inputBuffers = {arena_};
  std::unique_ptr<ManagedCopies> deviceInputs;
  // Tables the graph may write (error cells), to copy back after it.
  std::vector<std::pair<CacheBinding *, const void *>> tableCopies;
  if (device_ == Device::Cuda) {
    Result<CudaDevice *> gpu = CudaDevice::get();
    if (!gpu)
      return Error{"the cuda device is unavailable: " + gpu.error()};
    deviceInputs = std::make_unique<ManagedCopies>(**gpu);
  }
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
      descriptors.push_back(
          makeDescriptor(binding->cache->poolData(binding->pool),
                         {binding->cache->poolRows(binding->pool),
                          pool.numKvHeads, pool.headDim}));
      args.push_back(descriptors.back().data());
      void *table = binding->table.data();
      if (deviceInputs) {
        Result<const void *> copy =
            deviceInputs->copy(table, binding->table.size() * sizeof(int64_t),
                               "the page table of '" + spec.name + "'");
        if (!copy)
          return Error{copy.error()};
        table = const_cast<void *>(*copy);
        tableCopies.emplace_back(binding, table);
      }
      descriptors.push_back(
          makeDescriptor(table, {static_cast<int64_t>(binding->requests.size()),
                                 binding->columns}));
      args.push_back(descriptors.back().data());
      inputBuffers.insert(table);
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
    if (deviceInputs) {
      // Kernels cannot read host memory: the input travels in managed memory.
      size_t bytes = dtypeSize(spec.dtype);
      for (int64_t d : arg.shape)
        bytes *= static_cast<size_t>(d);
      Result<const void *> copy =
          deviceInputs->copy(arg.data, bytes, "input '" + spec.name + "'");
      if (!copy)
        return Error{copy.error()};
      data = *copy;
    }
    descriptors.push_back(makeDescriptor(data, arg.shape));
    args.push_back(descriptors.back().data());
    inputBuffers.insert(data);
  }
  auto start = std::chrono::steady_clock::now();
  callWithPointers(entries_.at(graphName), args);
  if (graphSeconds)
    *graphSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  // The graph has waited for its kernels before returning.
  for (auto [binding, copy] : tableCopies)
    std::memcpy(binding->table.data(), copy,
                binding->table.size() * sizeof(int64_t));

  std::vector<Output> outputs;
  std::set<void *> freed;
  size_t word = 0;
  for (const TensorSpec &spec : graph.outputs) {
    int64_t rank = static_cast<int64_t>(spec.shape.size());
    DescriptorView view = DescriptorView::of(results.data() + word, rank);
    word += 3 + 2 * rank;
    Output out;
    out.dtype = spec.dtype;
    out.shape.assign(view.sizes, view.sizes + rank);
    int64_t elementBytes = static_cast<int64_t>(dtypeSize(spec.dtype));
    out.bytes.resize(view.numElements() * elementBytes);
    if (view.isContiguous()) {
      std::memcpy(out.bytes.data(), view.data(elementBytes), out.bytes.size());
    } else {
      std::vector<int64_t> dst = makeDescriptor(out.bytes.data(), out.shape);
      UnrankedDescriptor from{
          rank, const_cast<int64_t *>(results.data() + word - 3 - 2 * rank)};
      UnrankedDescriptor to{rank, dst.data()};
      memrefCopy(elementBytes, &from, &to);
    }
    // The module allocates its results with malloc (a cuda module with
    // mgpuMemAlloc); they are ours to free.
    if (view.allocated && !inputBuffers.count(view.allocated) &&
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

} // namespace dgc::runtime
