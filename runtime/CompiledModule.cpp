//===- CompiledModule.cpp - Loading and calling a compiled module ---------===//

#include "dgc/runtime/CompiledModule.h"

#include "dgc/runtime/Files.h"
#include "dgc/runtime/HostThreads.h"
#include "dgc/runtime/Sha256.h"

#include "CacheBinding.h"
#include "CudaDriver.h"
#include "GraphCall.h"
#include "MemRefABI.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

namespace dgc::runtime {
namespace {
constexpr size_t kArenaAlignment = 64;

/// The addresses the loaded library `handle` occupies (its PT_LOAD
/// segments); empty if the loader cannot say.
std::pair<const void *, const void *> mappedRange(void *handle) {
  struct Search {
    const link_map *map;
    uintptr_t begin = UINTPTR_MAX, end = 0;
  } search{nullptr};
  link_map *map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map)
    return {nullptr, nullptr};
  search.map = map;
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *data) {
        auto *s = static_cast<Search *>(data);
        if (info->dlpi_addr != s->map->l_addr || !info->dlpi_name ||
            std::strcmp(info->dlpi_name, s->map->l_name) != 0)
          return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto &segment = info->dlpi_phdr[i];
          if (segment.p_type != PT_LOAD)
            continue;
          uintptr_t at = info->dlpi_addr + segment.p_vaddr;
          s->begin = std::min(s->begin, at);
          s->end = std::max(s->end, at + segment.p_memsz);
        }
        return 1;
      },
      &search);
  if (search.begin >= search.end)
    return {nullptr, nullptr};
  return {reinterpret_cast<const void *>(search.begin),
          reinterpret_cast<const void *>(search.end)};
}
} // namespace

CompiledModule::CompiledModule(CompiledModule &&other) noexcept {
  *this = std::move(other);
}

CompiledModule &CompiledModule::operator=(CompiledModule &&other) noexcept {
  std::swap(manifest_, other.manifest_);
  std::swap(library_, other.library_);
  std::swap(entries_, other.entries_);
  std::swap(arenaStorage_, other.arenaStorage_);
  std::swap(arena_, other.arena_);
  std::swap(weightsBound_, other.weightsBound_);
  std::swap(device_, other.device_);
  std::swap(deviceArena_, other.deviceArena_);
  std::swap(deviceMemory_, other.deviceMemory_);
  std::swap(staging_, other.staging_);
  std::swap(recordings_, other.recordings_);
  return *this;
}

CompiledModule::~CompiledModule() {
  // Replays read the arena: they go first.
  recordings_.clear();
  // The kernels' PTX lives in the library: the device forgets its
  // addresses before another library can be mapped there.
  if (library_ && device_ == Device::Cuda)
    if (Result<CudaDevice *> gpu = CudaDevice::get()) {
      auto [begin, end] = mappedRange(library_);
      (*gpu)->unloadModulesIn(begin, end);
    }
  if (library_)
    dlclose(library_);
  // The device exists: the arena came from it, and get() caches success.
  if (deviceArena_)
    if (Result<CudaDevice *> gpu = CudaDevice::get())
      (*gpu)->release(deviceArena_);
}

Result<Device> parseDevice(const std::string &name) {
  if (name == "host")
    return Device::Host;
  if (name == "cuda")
    return Device::Cuda;
  // cuda:N, as PyTorch spells a GPU: N picks the process's GPU.
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() <= 8 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos) {
    if (Status s = CudaDevice::requestOrdinal(std::stoi(name.substr(5))); !s)
      return Error{s.error()};
    return Device::Cuda;
  }
  return Error{"unknown device '" + name +
               "'; expected host, cuda or cuda:N (GPU N)"};
}

const char *deviceName(Device device) {
  return device == Device::Cuda ? "cuda" : "host";
}

Status setCudaProfiling(bool on) {
  Result<CudaDevice *> gpu = CudaDevice::get();
  if (!gpu)
    return Error{gpu.error()};
  const cuda::DriverApi &api = (*gpu)->api();
  auto call = on ? api.cuProfilerStart : api.cuProfilerStop;
  const char *name = on ? "cuProfilerStart" : "cuProfilerStop";
  if (!call)
    return Error{"the CUDA driver " + (*gpu)->library() + " has no " + name};
  // What is queued before the bracket stays out of it, and what is queued
  // inside it is done before it closes.
  (*gpu)->synchronize();
  if (Status failed = CudaDevice::takeError(); !failed)
    return failed;
  if (cuda::CUresult r = call(); r != cuda::kSuccess)
    return Error{describeCudaFailure({name, r, "", ""}, &api)};
  return Status();
}

std::vector<float> CompiledModule::Output::floats() const {
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

namespace {
/// Why `code` is no whole x86-64 ELF shared object, or "". The loader maps
/// segments by their headers: one that ends past a truncated file would be a
/// bus error on first touch, not an error.
std::string elfProblem(std::string_view code) {
  auto field = [&](size_t at, size_t bytes) -> uint64_t {
    uint64_t v = 0;
    std::memcpy(&v, code.data() + at, bytes); // little-endian x86-64
    return v;
  };
  // "\177ELF": the magic, 0x7f then "ELF".
  if (code.size() < 64 || code.substr(0, 4) != "\177ELF" || code[4] != 2)
    return "not a 64-bit ELF shared object";
  uint64_t phoff = field(0x20, 8), phentsize = field(0x36, 2),
           phnum = field(0x38, 2);
  if (phentsize < 56 || phoff > code.size() ||
      phnum * phentsize > code.size() - phoff)
    return "truncated ELF (its program headers end past the file)";
  for (uint64_t i = 0; i < phnum; ++i) {
    size_t at = phoff + i * phentsize;
    uint64_t offset = field(at + 8, 8), size = field(at + 32, 8);
    if (offset > code.size() || size > code.size() - offset)
      return "truncated ELF (segment " + std::to_string(i) +
             " ends past the file)";
  }
  return "";
}
} // namespace

Result<CompiledModule> CompiledModule::load(const std::string &directory,
                                            Device device) {
  std::string manifestPath = directory + "/manifest.json";
  if (!fileExists(manifestPath))
    return Error{manifestPath + ": cannot open the module manifest (is " +
                 directory + " a module written by dgc compile?)"};
  Result<std::string> text = readRegularFile(manifestPath, uint64_t(1) << 28);
  if (!text)
    return Error{text.error()};
  // An edited manifest is refused before any of its fields is trusted.
  if (Status s = verifyModuleFile(directory, "manifest.json", *text); !s)
    return Error{s.error()};
  Result<Manifest> manifest = parseManifest(*text, manifestPath);
  if (!manifest)
    return Error{manifest.error()};
  CompiledModule module;
  module.manifest_ = std::move(*manifest);
  module.device_ = device;
  Result<TargetManifest> target =
      selectTarget(module.manifest_, deviceName(device));
  if (!target)
    return Error{target.error()};
  // Host code for a CPU with features this one lacks would die of an
  // illegal instruction part way through a graph.
  if (device == Device::Host) {
    std::vector<std::string> missing = missingCpuFlags(target->cpuFeatures);
    if (!missing.empty()) {
      std::string names;
      for (const std::string &flag : missing)
        names += (names.empty() ? "" : ", ") + flag;
      return Error{directory + "/" + target->library + " was compiled for " +
                   target->cpu +
                   " and needs CPU features this machine lacks: " + names +
                   " (compile it here, or with dgc compile --cpu x86-64-v3 or "
                   "--cpu generic for modules that run elsewhere)"};
    }
  }
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
    if (pointers > static_cast<size_t>(kMaxGraphPointers))
      return Error{manifestPath + ": graph '" + name + "' takes " +
                   std::to_string(pointers) +
                   " pointers (results, inputs, a pool and a table per "
                   "cache); this runtime passes at most " +
                   std::to_string(kMaxGraphPointers)};
  }
  std::string library = directory + "/" + target->library;
  {
    // Code from another compile (or a damaged file) would run with this
    // manifest's arena layout: check it before it is loaded.
    Result<std::string> code = readRegularFile(library, uint64_t(1) << 36);
    if (!code)
      return Error{code.error()};
    if (Status s = verifyModuleFile(directory, target->library, *code); !s)
      return Error{s.error()};
    if (std::string problem = elfProblem(*code); !problem.empty())
      return Error{library + ": cannot load the host code: " + problem};
  }
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
  // Parallel loop nests run on the runtime's threads (HostThreads.h).
  if (auto *parallelFor =
          static_cast<void **>(dlsym(module.library_, kParallelForSymbol)))
    *parallelFor = reinterpret_cast<void *>(&hostParallelFor);
  // The code knows the manifest it was compiled with: a manifest edited and
  // re-sealed (another pool geometry, two graphs on one entry point) would
  // make it read and write past its buffers.
  const auto *compiledWith =
      static_cast<const char *>(dlsym(module.library_, kManifestDigestSymbol));
  if (!compiledWith)
    return Error{library + ": names no manifest (" +
                 std::string(kManifestDigestSymbol) +
                 "): compiled by another dgc? compile the module again"};
  if (std::string manifestDigest = manifestCodeDigest(*text);
      std::string(compiledWith, strnlen(compiledWith, 64)) != manifestDigest)
    return Error{manifestPath + ": not the manifest " + target->library +
                 " was compiled with (its digest is " + manifestDigest +
                 ", the code's " +
                 std::string(compiledWith, strnlen(compiledWith, 64)) +
                 "): the manifest was edited after dgc compile wrote it "
                 "(compile the module again)"};
  uintptr_t base;
  if (gpu) {
    // Kernels read the weights: the arena is device memory, or managed
    // memory where the module's host code reads its arguments too.
    module.deviceMemory_ = target->deviceMemory;
    size_t bytes = module.manifest_.weightBytes + kArenaAlignment;
    Result<void *> arena = module.deviceMemory_
                               ? gpu->allocDevice(bytes, "the weight arena")
                               : gpu->allocManaged(bytes, "the weight arena");
    if (!arena)
      return Error{arena.error()};
    module.deviceArena_ = *arena;
    base = reinterpret_cast<uintptr_t>(*arena);
  } else {
    if (Status s = checkHostMemory(module.manifest_.weightBytes,
                                   directory + ": the weight arena");
        !s)
      return Error{s.error()};
    module.arenaStorage_.resize(module.manifest_.weightBytes + kArenaAlignment);
    base = reinterpret_cast<uintptr_t>(module.arenaStorage_.data());
  }
  module.arena_ = reinterpret_cast<uint8_t *>((base + kArenaAlignment - 1) &
                                              ~(kArenaAlignment - 1));
  return module;
}

Status CompiledModule::bindWeights(const Checkpoint &checkpoint) {
  if (Status s = checkCheckpointConfig(manifest_, checkpoint.directory()); !s)
    return s;
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
    if (w.dtype != DType::F32 && w.dtype != DType::BF16)
      return Error{"tensor '" + w.name + "': the module wants " +
                   dtypeName(w.dtype) +
                   " weights, which this runtime cannot "
                   "convert to"};
    int64_t n = tensor->numElements();
    Status written = writeWeight(w, [&](uint8_t *dst) -> Status {
      if (w.dtype == DType::F32) {
        Result<int64_t> copied =
            copyToFloat32(*tensor, reinterpret_cast<float *>(dst), n);
        if (!copied)
          return Error{copied.error()};
      } else if (tensor->dtype() == DType::BF16) {
        std::memcpy(dst, tensor->data, tensor->byteSize());
      } else {
        Result<std::vector<float>> values = toFloat32(*tensor);
        if (!values)
          return Error{values.error()};
        auto *out = reinterpret_cast<uint16_t *>(dst);
        for (int64_t i = 0; i < n; ++i)
          out[i] = floatToBF16((*values)[i]);
      }
      // A NaN or an infinity would surface steps later as an unexplained
      // failure, or never where the prompt does not reach the tensor.
      int64_t bad = -1;
      if (w.dtype == DType::F32) {
        const auto *values = reinterpret_cast<const float *>(dst);
        for (int64_t i = 0; i < n && bad < 0; ++i)
          if (!std::isfinite(values[i]))
            bad = i;
      } else {
        const auto *bits = reinterpret_cast<const uint16_t *>(dst);
        for (int64_t i = 0; i < n && bad < 0; ++i)
          if ((bits[i] & 0x7f80) == 0x7f80)
            bad = i;
      }
      if (bad >= 0) {
        float value =
            w.dtype == DType::F32
                ? reinterpret_cast<const float *>(dst)[bad]
                : bf16ToFloat(reinterpret_cast<const uint16_t *>(dst)[bad]);
        return Error{"tensor '" + w.name + "' in the checkpoint in " +
                     checkpoint.directory() + ": element " +
                     std::to_string(bad) + " is " + std::to_string(value) +
                     "; weights must be finite"};
      }
      return Status();
    });
    if (!written)
      return written;
  }
  weightsBound_ = true;
  return placeArenaOnDevice();
}

Status
CompiledModule::writeWeight(const WeightSpec &w,
                            const std::function<Status(uint8_t *)> &fill) {
  if (!deviceMemory_)
    return fill(arena_ + w.offset);
  size_t bytes = static_cast<size_t>(w.byteSize());
  staging_.resize(bytes);
  if (Status s = fill(staging_.data()); !s)
    return s;
  Status uploaded = toModuleMemory(arena_ + w.offset, staging_.data(), bytes);
  if (!uploaded)
    return Error{"tensor '" + w.name + "': " + uploaded.error()};
  return Status();
}

Result<std::vector<uint8_t>>
CompiledModule::readWeight(const WeightSpec &w) const {
  std::vector<uint8_t> bytes(static_cast<size_t>(w.byteSize()));
  if (Status s =
          fromModuleMemory(bytes.data(), arena_ + w.offset, bytes.size());
      !s)
    return Error{"tensor '" + w.name + "': " + s.error()};
  return bytes;
}

Status CompiledModule::copyModuleMemory(void *dst, const void *src,
                                        size_t bytes, bool toModule) const {
  if (!deviceMemory_) {
    if (bytes)
      std::memcpy(dst, src, bytes);
    return Status();
  }
  Result<CudaDevice *> gpu = CudaDevice::get();
  if (!gpu)
    return Error{"the cuda device is unavailable: " + gpu.error()};
  return toModule ? (*gpu)->upload(dst, src, bytes)
                  : (*gpu)->download(dst, src, bytes);
}

std::vector<PoolSpec> CompiledModule::poolSpecs() const {
  std::vector<PoolSpec> pools;
  for (const PoolManifest &p : manifest_.pools)
    pools.push_back(PoolSpec{p.name, p.layers, p.kvHeads, p.headDim, p.window,
                             static_cast<int>(dtypeSize(p.dtype))});
  return pools;
}

Result<KVCache> CompiledModule::createCache(int64_t pageSize,
                                            int64_t pagesPerPool) const {
  return createCache(
      pageSize, std::vector<int64_t>(manifest_.pools.size(), pagesPerPool));
}

Result<KVCache> CompiledModule::createCache(int64_t pageSize,
                                            std::vector<int64_t> pages) const {
  PoolMemory memory;
  if (device_ == Device::Cuda) {
    // Kernels read and write the pages: device memory (managed where the
    // module's host code reads its arguments), copied explicitly.
    Result<CudaDevice *> gpu = CudaDevice::get();
    if (!gpu)
      return Error{"the cuda device is unavailable: " + gpu.error()};
    CudaDevice *device = *gpu;
    bool onDevice = deviceMemory_;
    memory.allocate = [device, onDevice](size_t bytes) -> void * {
      Result<void *> p = onDevice
                             ? device->allocDevice(bytes, "KV-cache pages")
                             : device->allocManaged(bytes, "KV-cache pages");
      return p ? *p : nullptr;
    };
    memory.release = [device](void *p) { device->release(p); };
    // Failures are recorded: the next graph call reports them.
    memory.zero = [device](void *p, size_t bytes) {
      if (Status s = device->zero(p, bytes); !s)
        CudaDevice::recordError(s.error());
    };
    if (onDevice) {
      memory.copyIn = [device](void *dst, const void *src, size_t bytes) {
        if (Status s = device->upload(dst, src, bytes); !s)
          CudaDevice::recordError(s.error());
      };
      memory.copyOut = [device](void *dst, const void *src, size_t bytes) {
        if (Status s = device->download(dst, src, bytes); !s)
          CudaDevice::recordError(s.error());
      };
    }
  }
  return KVCache::create(pageSize, poolSpecs(), std::move(pages),
                         std::move(memory));
}

Status CompiledModule::checkPool(const std::string &name,
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

} // namespace dgc::runtime
