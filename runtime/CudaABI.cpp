//===- CudaABI.cpp - The mgpu* functions a cuda module calls --------------===//
//
// MLIR's gpu-to-llvm runtime ABI over the process's CudaDevice. The compiled
// host code loads the module and looks the kernel up around every launch,
// queues runs of launches on a "new" stream and synchronises it only where
// host code needs the results (dg-gpu-async-launches), so modules and
// functions are cached, unloading waits for the device to go, one
// persistent stream serves every launch, and a buffer freed while kernels
// are queued is freed at the next synchronisation.
//
// These functions cannot return errors into compiled code: the first one is
// recorded, later launches are skipped, and CompiledModule::call reports it. A
// failed allocation falls back to host memory so that the host code between
// kernels, which reads and writes buffers, does not crash meanwhile.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <vector>

using namespace dgc::runtime;
using namespace dgc::runtime::cuda;

namespace {

std::mutex errorMutex;
std::string firstError;

/// Live mgpuMemAlloc buffers: true for device memory, false for a host
/// fallback.
std::mutex allocationMutex;
std::map<void *, bool> allocations;

/// What an empty allocation returns: non-null, never written, never freed.
alignas(64) char emptyBuffer[64];

constexpr int kJitLogBytes = 16384;
/// Dynamic shared memory above this needs the kernel's opt-in attribute.
constexpr int32_t kDefaultSharedMemBytes = 48 * 1024;

/// The first `.entry` of a PTX text, to name its module in errors.
std::string firstEntry(const char *ptx) {
  std::string_view text(ptx);
  size_t at = text.find(".entry");
  if (at == std::string_view::npos)
    return "";
  at = text.find_first_not_of(" \t\r\n", at + 6);
  if (at == std::string_view::npos)
    return "";
  size_t end = text.find_first_of(" \t\r\n(", at);
  return std::string(text.substr(at, end - at));
}

CudaDevice *deviceOrRecord() {
  Result<CudaDevice *> device = CudaDevice::get();
  if (!device) {
    CudaDevice::recordError(device.error());
    return nullptr;
  }
  return *device;
}

} // namespace

namespace dgc::runtime {

std::string launchDimensionProblem(const int64_t grid[3],
                                   const int64_t block[3]) {
  // The limits of every GPU since compute capability 3.0.
  const int64_t gridLimit[3] = {(int64_t(1) << 31) - 1, 65535, 65535};
  const int64_t blockLimit[3] = {1024, 1024, 64};
  const char *axis = "xyz";
  for (int i = 0; i < 3; ++i) {
    if (grid[i] < 0 || grid[i] > gridLimit[i])
      return std::string("grid ") + axis[i] + " of " + std::to_string(grid[i]) +
             " blocks is outside [0, " + std::to_string(gridLimit[i]) + "]";
    if (block[i] < 0 || block[i] > blockLimit[i])
      return std::string("block ") + axis[i] + " of " +
             std::to_string(block[i]) + " threads is outside [0, " +
             std::to_string(blockLimit[i]) + "]";
  }
  if (block[0] * block[1] * block[2] > 1024)
    return "a block of " + std::to_string(block[0]) + " x " +
           std::to_string(block[1]) + " x " + std::to_string(block[2]) +
           " threads is more than 1024";
  return "";
}

void CudaDevice::recordError(const std::string &message) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    firstError = message;
}

bool CudaDevice::hasError() {
  std::lock_guard<std::mutex> lock(errorMutex);
  return !firstError.empty();
}

Status CudaDevice::takeError() {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    return Status();
  std::string message;
  message.swap(firstError);
  return Error{message};
}

bool CudaDevice::ownsAllocation(const void *pointer) {
  if (pointer == emptyBuffer)
    return true;
  std::lock_guard<std::mutex> lock(allocationMutex);
  return allocations.count(const_cast<void *>(pointer)) != 0;
}

bool CudaDevice::check(CUresult code, const char *call,
                       const std::string &kernel, const std::string &log) {
  if (code == kSuccess)
    return true;
  recordError(describeCudaFailure({call, code, kernel, log}, &api_));
  return false;
}

void *CudaDevice::loadModule(const void *ptx, int optLevel) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = modules_.find(ptx); it != modules_.end())
    return it->second;
  if (!ptx || hasError())
    return nullptr;
  // Text loaded before, at another address or by a module since unloaded
  // (a test loading the same module again), is not compiled again.
  std::string text(static_cast<const char *>(ptx));
  if (auto it = modulesByText_.find(text); it != modulesByText_.end())
    return modules_[ptx] = it->second;
  makeCurrent();
  std::vector<char> log(kJitLogBytes, '\0');
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSizeBytes,
                   kJitOptimizationLevel};
  // Option values travel as pointer-sized integers, as cuda.h specifies.
  void *values[] = {
      log.data(), reinterpret_cast<void *>(uintptr_t(log.size())),
      reinterpret_cast<void *>(uintptr_t(std::clamp(optLevel, 0, 4)))};
  CUmodule module = nullptr;
  CUresult r = api_.cuModuleLoadDataEx(&module, ptx, 3, options, values);
  log.back() = '\0';
  if (!check(r, "cuModuleLoadDataEx",
             firstEntry(static_cast<const char *>(ptx)), log.data()))
    return nullptr;
  modules_[ptx] = module;
  modulesByText_.emplace(std::move(text), module);
  return module;
}

void CudaDevice::unloadModulesIn(const void *begin, const void *end) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The modules stay loaded, found by their text if it comes again.
  modules_.erase(modules_.lower_bound(begin), modules_.lower_bound(end));
}

void *CudaDevice::function(void *module, const char *name) {
  if (!module || !name)
    return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(static_cast<CUmodule>(module), std::string(name));
  if (auto it = functions_.find(key); it != functions_.end())
    return it->second;
  makeCurrent();
  CUfunction function = nullptr;
  if (!check(api_.cuModuleGetFunction(&function, key.first, name),
             "cuModuleGetFunction", name))
    return nullptr;
  functions_[key] = function;
  kernelNames_[function] = name;
  return function;
}

void CudaDevice::launch(void *function, const int64_t grid[3],
                        const int64_t block[3], int32_t sharedMemBytes,
                        void **params, void **extra) {
  if (!function || hasError())
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto f = static_cast<CUfunction>(function);
  auto known = kernelNames_.find(f);
  std::string name = known != kernelNames_.end() ? known->second : "";
  unsigned dims[6];
  for (int i = 0; i < 6; ++i) {
    int64_t d = i < 3 ? grid[i] : block[i - 3];
    // An empty launch (a dynamic size of 0) has nothing to do, and the
    // driver refuses zero-sized grids.
    if (d == 0)
      return;
    dims[i] = static_cast<unsigned>(d);
  }
  if (std::string problem = launchDimensionProblem(grid, block);
      !problem.empty()) {
    recordError("kernel '" + name + "': " + problem);
    return;
  }
  makeCurrent();
  if (sharedMemBytes > kDefaultSharedMemBytes &&
      !check(api_.cuFuncSetAttribute(f, kFuncAttributeMaxDynamicSharedSizeBytes,
                                     sharedMemBytes),
             "cuFuncSetAttribute", name))
    return;
  lastKernel_ = name;
  queued_ = true;
  if (!check(api_.cuLaunchKernel(f, dims[0], dims[1], dims[2], dims[3], dims[4],
                                 dims[5], static_cast<unsigned>(sharedMemBytes),
                                 stream_, params, extra),
             "cuLaunchKernel", name))
    return;
  if (syncEachLaunch_ && !recording_)
    synchronizeLocked();
}

void CudaDevice::synchronize() {
  std::lock_guard<std::mutex> lock(mutex_);
  // A recording's closing wait is the replay's.
  if (!recording_)
    synchronizeLocked();
}

void CudaDevice::synchronizeLocked() {
  makeCurrent();
  // Faults surface here, named after the last kernel queued; with
  // DGC_CUDA_SYNC=1 every launch is synchronised, so that is the one.
  check(api_.cuStreamSynchronize(stream_), "cuStreamSynchronize", lastKernel_);
  queued_ = false;
  for (void *pointer : deferredFrees_)
    check(api_.cuMemFree(reinterpret_cast<CUdeviceptr>(pointer)), "cuMemFree");
  deferredFrees_.clear();
}

void *CudaDevice::allocate(size_t bytes, bool managed) {
  // Sizes round up to 256 bytes, so that a layer's buffers fit the next
  // layer's requests.
  BufferClass wanted{(bytes + 255) / 256 * 256, managed};
  std::lock_guard<std::mutex> lock(mutex_);
  auto take = [&](std::multimap<BufferClass, void *> &kept) -> void * {
    auto it = kept.find(wanted);
    if (it == kept.end())
      return nullptr;
    void *pointer = it->second;
    kept.erase(it);
    liveBuffers_[pointer] = wanted;
    return pointer;
  };
  // A recording's own freed buffers are already its.
  if (void *pointer = recording_ ? take(recordedFree_) : nullptr)
    return pointer;
  if (void *pointer = take(reusable_)) {
    if (recording_)
      recorded_.push_back(pointer);
    return pointer;
  }
  makeCurrent();
  CUdeviceptr pointer = 0;
  auto allocateNew = [&] {
    return managed ? api_.cuMemAllocManaged(&pointer, wanted.bytes,
                                            kMemAttachGlobal)
                   : api_.cuMemAlloc(&pointer, wanted.bytes);
  };
  CUresult r = allocateNew();
  if (r != kSuccess && !reusable_.empty()) {
    // Out of memory with buffers of other sizes idle: give them back. A
    // recording began with a wait, so nothing queued uses them then, and a
    // wait on the capturing stream would end the capture.
    if (!recording_)
      synchronizeLocked();
    releaseReusableLocked();
    r = allocateNew();
  }
  if (!check(r, managed ? "cuMemAllocManaged" : "cuMemAlloc"))
    return nullptr;
  liveBuffers_[reinterpret_cast<void *>(pointer)] = wanted;
  if (recording_)
    recorded_.push_back(reinterpret_cast<void *>(pointer));
  return reinterpret_cast<void *>(pointer);
}

void CudaDevice::free(void *pointer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ownedByRecordings_.count(pointer))
    return; // the recording frees it
  if (auto it = liveBuffers_.find(pointer); it != liveBuffers_.end()) {
    // A recording keeps its buffers: its replays use them again.
    (recording_ ? recordedFree_ : reusable_).emplace(it->second, pointer);
    liveBuffers_.erase(it);
    return;
  }
  if (queued_) {
    deferredFrees_.push_back(pointer);
    return;
  }
  makeCurrent();
  check(api_.cuMemFree(reinterpret_cast<CUdeviceptr>(pointer)), "cuMemFree");
}

size_t CudaDevice::reusableBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t bytes = 0;
  for (const auto &[kind, pointer] : reusable_)
    bytes += kind.bytes;
  return bytes;
}

bool CudaDevice::canRecord() const {
  return api_.cuStreamBeginCapture && api_.cuStreamEndCapture &&
         api_.cuGraphInstantiateWithFlags && api_.cuGraphLaunch &&
         api_.cuGraphExecDestroy && api_.cuGraphDestroy;
}

Status CudaDevice::beginRecording() {
  if (!canRecord())
    return Error{"the CUDA driver " + library_ +
                 " cannot record graphs (CUDA 11.4 or later needed)"};
  std::lock_guard<std::mutex> lock(mutex_);
  if (recording_)
    return Error{"a recording is already under way"};
  // Nothing of an earlier call may run into the recording.
  synchronizeLocked();
  makeCurrent();
  CUresult r = api_.cuStreamBeginCapture(stream_, kStreamCaptureModeRelaxed);
  if (r != kSuccess)
    return Error{
        describeCudaFailure({"cuStreamBeginCapture", r, "", ""}, &api_)};
  recording_ = true;
  return Status();
}

Result<std::unique_ptr<CudaDevice::Recording>> CudaDevice::endRecording() {
  // Made before the lock is taken, so that a failure below destroys it (which
  // locks) after the lock is released.
  std::unique_ptr<Recording> recording(new Recording(*this));
  std::lock_guard<std::mutex> lock(mutex_);
  if (!recording_)
    return Error{"no recording is under way"};
  recording_ = false;
  // Every buffer the recorded kernels touch stays the recording's, freed or
  // not (a graph's results are freed by its caller after each replay).
  std::map<void *, BufferClass> freed;
  for (const auto &[kind, pointer] : recordedFree_)
    freed[pointer] = kind;
  for (void *pointer : recorded_) {
    auto live = liveBuffers_.find(pointer);
    BufferClass kind =
        live != liveBuffers_.end() ? live->second : freed[pointer];
    if (live != liveBuffers_.end())
      liveBuffers_.erase(live);
    recording->buffers_.emplace_back(pointer, kind);
    ownedByRecordings_[pointer] = kind;
  }
  recorded_.clear();
  recordedFree_.clear();
  makeCurrent();
  CUresult r = api_.cuStreamEndCapture(stream_, &recording->graph_);
  if (r != kSuccess)
    return Error{describeCudaFailure({"cuStreamEndCapture", r, "", ""}, &api_)};
  r = api_.cuGraphInstantiateWithFlags(&recording->exec_, recording->graph_, 0);
  if (r != kSuccess)
    return Error{describeCudaFailure({"cuGraphInstantiate", r, "", ""}, &api_)};
  return recording;
}

Status CudaDevice::Recording::replay() {
  std::lock_guard<std::mutex> lock(device_.mutex_);
  device_.makeCurrent();
  CUresult r = device_.api_.cuGraphLaunch(exec_, device_.stream_);
  if (r != kSuccess)
    return Error{
        describeCudaFailure({"cuGraphLaunch", r, "", ""}, &device_.api_)};
  device_.queued_ = true;
  device_.lastKernel_ = "a replayed graph";
  device_.synchronizeLocked();
  return CudaDevice::takeError();
}

CudaDevice::Recording::~Recording() {
  std::lock_guard<std::mutex> lock(device_.mutex_);
  device_.makeCurrent();
  if (device_.queued_)
    device_.synchronizeLocked();
  if (exec_)
    device_.api_.cuGraphExecDestroy(exec_);
  if (graph_)
    device_.api_.cuGraphDestroy(graph_);
  // The buffers serve later allocations again.
  for (const auto &[pointer, kind] : buffers_) {
    device_.ownedByRecordings_.erase(pointer);
    device_.reusable_.emplace(kind, pointer);
  }
}

void CudaDevice::releaseReusableLocked() {
  for (const auto &[kind, pointer] : reusable_)
    check(api_.cuMemFree(reinterpret_cast<CUdeviceptr>(pointer)), "cuMemFree");
  reusable_.clear();
}

} // namespace dgc::runtime

extern "C" {

void *mgpuModuleLoadJIT(void *ptx, int32_t optLevel) {
  CudaDevice *device = deviceOrRecord();
  return device ? device->loadModule(ptx, optLevel) : nullptr;
}

// Modules stay loaded (and cached) while the device lives: the compiled code
// unloads after every launch.
void mgpuModuleUnload(void *module) {}

void *mgpuModuleGetFunction(void *module, const char *name) {
  CudaDevice *device = deviceOrRecord();
  return device ? device->function(module, name) : nullptr;
}

void mgpuLaunchKernel(void *function, int64_t gridX, int64_t gridY,
                      int64_t gridZ, int64_t blockX, int64_t blockY,
                      int64_t blockZ, int32_t sharedMemBytes, void *stream,
                      void **params, void **extra, int64_t paramsCount) {
  CudaDevice *device = deviceOrRecord();
  if (!device)
    return;
  const int64_t grid[3] = {gridX, gridY, gridZ};
  const int64_t block[3] = {blockX, blockY, blockZ};
  device->launch(function, grid, block, sharedMemBytes, params, extra);
}

void *mgpuStreamCreate() {
  CudaDevice *device = deviceOrRecord();
  return device ? device->stream() : nullptr;
}

void mgpuStreamSynchronize(void *stream) {
  if (CudaDevice *device = deviceOrRecord())
    device->synchronize();
}

// The persistent stream outlives every launch.
void mgpuStreamDestroy(void *stream) {}

void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared) {
  if (sizeBytes == 0)
    return emptyBuffer;
  void *pointer = nullptr;
  if (CudaDevice *device = deviceOrRecord())
    pointer = device->allocate(sizeBytes, isHostShared);
  bool onDevice = pointer != nullptr;
  if (!pointer)
    pointer = std::malloc(sizeBytes);
  if (pointer) {
    std::lock_guard<std::mutex> lock(allocationMutex);
    allocations[pointer] = onDevice;
  }
  return pointer;
}

void mgpuMemFree(void *pointer, void *stream) {
  if (!pointer || pointer == emptyBuffer)
    return;
  bool onDevice;
  {
    std::lock_guard<std::mutex> lock(allocationMutex);
    auto it = allocations.find(pointer);
    if (it == allocations.end())
      return; // not from mgpuMemAlloc, or already freed
    onDevice = it->second;
    allocations.erase(it);
  }
  if (!onDevice) {
    std::free(pointer);
    return;
  }
  // Device memory exists only once get() has succeeded, which it caches.
  if (CudaDevice *device = deviceOrRecord())
    device->free(pointer);
}

} // extern "C"
