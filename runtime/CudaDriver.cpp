//===- CudaDriver.cpp - Loading the CUDA driver and opening a GPU ---------===//

#include "CudaDriver.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace dgc::runtime {

using namespace cuda;

namespace {

/// The GPU --device cuda:N asked for; -1: DGC_CUDA_DEVICE or 0.
std::atomic<int> requestedOrdinal{-1};

/// The names of the codes the hints cover and a few more; the driver's own
/// cuGetErrorName is preferred when it answers.
const std::map<CUresult, const char *> &errorNames() {
  static const std::map<CUresult, const char *> names = {
      {0, "CUDA_SUCCESS"},
      {1, "CUDA_ERROR_INVALID_VALUE"},
      {2, "CUDA_ERROR_OUT_OF_MEMORY"},
      {3, "CUDA_ERROR_NOT_INITIALIZED"},
      {4, "CUDA_ERROR_DEINITIALIZED"},
      {34, "CUDA_ERROR_STUB_LIBRARY"},
      {36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER"},
      {46, "CUDA_ERROR_DEVICE_UNAVAILABLE"},
      {100, "CUDA_ERROR_NO_DEVICE"},
      {101, "CUDA_ERROR_INVALID_DEVICE"},
      {200, "CUDA_ERROR_INVALID_IMAGE"},
      {201, "CUDA_ERROR_INVALID_CONTEXT"},
      {209, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
      {218, "CUDA_ERROR_INVALID_PTX"},
      {221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND"},
      {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"},
      {223, "CUDA_ERROR_JIT_COMPILATION_DISABLED"},
      {400, "CUDA_ERROR_INVALID_HANDLE"},
      {500, "CUDA_ERROR_NOT_FOUND"},
      {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
      {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
      {702, "CUDA_ERROR_LAUNCH_TIMEOUT"},
      {710, "CUDA_ERROR_ASSERT"},
      {714, "CUDA_ERROR_HARDWARE_STACK_ERROR"},
      {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION"},
      {716, "CUDA_ERROR_MISALIGNED_ADDRESS"},
      {717, "CUDA_ERROR_INVALID_ADDRESS_SPACE"},
      {718, "CUDA_ERROR_INVALID_PC"},
      {719, "CUDA_ERROR_LAUNCH_FAILED"},
      {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"},
      {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"},
      {999, "CUDA_ERROR_UNKNOWN"},
  };
  return names;
}

/// "12.3 GB", for memory sizes in messages.
std::string gigabytes(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  return text;
}

std::string kernelPhrase(const std::string &kernel) {
  return kernel.empty() ? "a kernel" : "kernel '" + kernel + "'";
}

/// Resolves `symbol` into `slot`; false when the library lacks it.
template <typename F> bool resolve(void *handle, const char *symbol, F &slot) {
  slot = reinterpret_cast<F>(dlsym(handle, symbol));
  return slot != nullptr;
}

} // namespace

std::string cudaErrorName(CUresult code) {
  auto it = errorNames().find(code);
  return it != errorNames().end() ? it->second
                                  : "CUDA error " + std::to_string(code);
}

std::string cudaErrorHint(CUresult code, const std::string &kernel) {
  switch (code) {
  case kErrorStubLibrary:
    return "this libcuda is the CUDA toolkit's stub, not a driver: install "
           "the NVIDIA driver (keep the toolkit's stubs directory off "
           "LD_LIBRARY_PATH and DGC_LIBCUDA) or run with --device host";
  case kErrorNoDevice:
    return "no GPU visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
  case kErrorInvalidDevice:
    return "DGC_CUDA_DEVICE names a GPU that is not visible (check "
           "nvidia-smi and CUDA_VISIBLE_DEVICES)";
  case 46:
    return "the GPU is busy in exclusive compute mode or unavailable (see "
           "nvidia-smi)";
  case 36:
  case 803:
  case 804:
    return "the NVIDIA driver does not match this GPU or is too old: "
           "update it (and reboot after an update)";
  case kErrorInvalidImage:
  case kErrorNoBinaryForGpu:
  case kErrorInvalidPtx:
  case 221:
  case kErrorUnsupportedPtxVersion:
  case 223:
    return "the driver cannot load PTX for this GPU: compile with --chip "
           "matching it and a driver supporting PTX ISA 8.0";
  case kErrorOutOfMemory:
    return "the GPU is out of memory: use fewer KV-cache pages "
           "(--cache-pages) or a smaller batch (--max-batch)";
  case kErrorLaunchOutOfResources:
    return kernelPhrase(kernel) +
           " needs more registers or shared memory per block than the GPU "
           "has";
  case 702:
    return kernelPhrase(kernel) + " ran past the display watchdog's limit";
  default:
    if (code >= kErrorIllegalAddress && code <= kErrorLaunchFailed)
      return kernelPhrase(kernel) +
             " failed on the GPU; the context is unusable until the process "
             "restarts (compute-sanitizer locates the fault)";
    return "";
  }
}

std::string describeCudaFailure(const CudaFailure &failure,
                                const DriverApi *api) {
  std::string name = cudaErrorName(failure.code), text;
  const char *s = nullptr;
  if (api && api->cuGetErrorName &&
      api->cuGetErrorName(failure.code, &s) == kSuccess && s)
    name = s;
  s = nullptr;
  if (api && api->cuGetErrorString &&
      api->cuGetErrorString(failure.code, &s) == kSuccess && s)
    text = s;
  std::string message = failure.call;
  if (!failure.kernel.empty())
    message += " (kernel '" + failure.kernel + "')";
  message += " failed: " + name + " (" + std::to_string(failure.code) + ")";
  if (!text.empty())
    message += ": " + text;
  std::string hint = cudaErrorHint(failure.code, failure.kernel);
  if (!hint.empty())
    message += "; " + hint;
  if (!failure.log.empty())
    message += "\nJIT log:\n" + failure.log;
  return message;
}

Status CudaDevice::initialise() {
  // DGC_LIBCUDA picks a driver library; otherwise the loader's search path.
  const char *chosen = std::getenv("DGC_LIBCUDA");
  if (chosen && *chosen) {
    library_ = chosen;
    handle_ = dlopen(chosen, RTLD_NOW | RTLD_LOCAL);
    if (!handle_)
      return Error{"DGC_LIBCUDA=" + library_ +
                   ": cannot load the CUDA driver: " + dlerror()};
  } else {
    for (const char *candidate : {"libcuda.so.1", "libcuda.so"}) {
      handle_ = dlopen(candidate, RTLD_NOW | RTLD_LOCAL);
      if (handle_) {
        library_ = candidate;
        break;
      }
    }
    if (!handle_)
      return Error{"no NVIDIA driver: libcuda.so.1 was not found; install "
                   "the driver or run with --device host"};
  }

  std::string missing;
  auto need = [&](const char *symbol, auto &slot) {
    if (!resolve(handle_, symbol, slot) && missing.empty())
      missing = symbol;
  };
  need("cuInit", api_.cuInit);
  need("cuDeviceGetCount", api_.cuDeviceGetCount);
  need("cuDeviceGet", api_.cuDeviceGet);
  need("cuDeviceGetName", api_.cuDeviceGetName);
  need("cuDeviceGetAttribute", api_.cuDeviceGetAttribute);
  need("cuDevicePrimaryCtxRetain", api_.cuDevicePrimaryCtxRetain);
  need("cuDevicePrimaryCtxRelease_v2", api_.cuDevicePrimaryCtxRelease);
  need("cuCtxSetCurrent", api_.cuCtxSetCurrent);
  need("cuModuleLoadDataEx", api_.cuModuleLoadDataEx);
  need("cuModuleUnload", api_.cuModuleUnload);
  need("cuModuleGetFunction", api_.cuModuleGetFunction);
  need("cuFuncSetAttribute", api_.cuFuncSetAttribute);
  need("cuLaunchKernel", api_.cuLaunchKernel);
  need("cuStreamCreate", api_.cuStreamCreate);
  need("cuStreamSynchronize", api_.cuStreamSynchronize);
  need("cuStreamDestroy_v2", api_.cuStreamDestroy);
  need("cuMemAlloc_v2", api_.cuMemAlloc);
  need("cuMemAllocManaged", api_.cuMemAllocManaged);
  need("cuMemFree_v2", api_.cuMemFree);
  need("cuMemcpyHtoD_v2", api_.cuMemcpyHtoD);
  need("cuMemcpyDtoH_v2", api_.cuMemcpyDtoH);
  resolve(handle_, "cuMemGetInfo_v2", api_.cuMemGetInfo);
  resolve(handle_, "cuMemsetD8Async", api_.cuMemsetD8Async);
  resolve(handle_, "cuMemPrefetchAsync_v2", api_.cuMemPrefetchAsync);
  resolve(handle_, "cuStreamBeginCapture_v2", api_.cuStreamBeginCapture);
  resolve(handle_, "cuStreamEndCapture", api_.cuStreamEndCapture);
  resolve(handle_, "cuGraphInstantiateWithFlags",
          api_.cuGraphInstantiateWithFlags);
  resolve(handle_, "cuGraphLaunch", api_.cuGraphLaunch);
  resolve(handle_, "cuGraphExecDestroy", api_.cuGraphExecDestroy);
  resolve(handle_, "cuGraphDestroy", api_.cuGraphDestroy);
  resolve(handle_, "cuProfilerStart", api_.cuProfilerStart);
  resolve(handle_, "cuProfilerStop", api_.cuProfilerStop);
  resolve(handle_, "cuGetErrorName", api_.cuGetErrorName);
  resolve(handle_, "cuGetErrorString", api_.cuGetErrorString);
  if (!missing.empty())
    return Error{"the CUDA driver " + library_ + " has no " + missing +
                 ": it is too old for this runtime; update the NVIDIA driver"};

  auto fail = [&](const char *call, CUresult code) {
    return Error{"the CUDA driver (" + library_ +
                 "): " + describeCudaFailure({call, code, "", ""}, &api_)};
  };
  if (CUresult r = api_.cuInit(0); r != kSuccess)
    return fail("cuInit", r);
  int count = 0;
  if (CUresult r = api_.cuDeviceGetCount(&count); r != kSuccess)
    return fail("cuDeviceGetCount", r);
  if (count == 0)
    return fail("cuDeviceGetCount", kErrorNoDevice);
  if (int requested = requestedOrdinal.load(); requested >= 0) {
    if (requested >= count)
      return Error{"cuda:" + std::to_string(requested) +
                   ": expected a GPU ordinal below " + std::to_string(count) +
                   " (the GPUs visible here)"};
    ordinal_ = requested;
  } else if (const char *env = std::getenv("DGC_CUDA_DEVICE"); env && *env) {
    char *end = nullptr;
    errno = 0;
    long ordinal = std::strtol(env, &end, 10);
    if (errno || *end || ordinal < 0 || ordinal >= count)
      return Error{"DGC_CUDA_DEVICE=" + std::string(env) +
                   ": expected a GPU ordinal below " + std::to_string(count) +
                   " (the GPUs visible here)"};
    ordinal_ = static_cast<int>(ordinal);
  }
  if (CUresult r = api_.cuDeviceGet(&device_, ordinal_); r != kSuccess)
    return fail("cuDeviceGet", r);
  char name[256] = {};
  if (CUresult r = api_.cuDeviceGetName(name, sizeof(name) - 1, device_);
      r != kSuccess)
    return fail("cuDeviceGetName", r);
  name_ = name;
  if (CUresult r = api_.cuDeviceGetAttribute(
          &major_, kAttributeComputeCapabilityMajor, device_);
      r != kSuccess)
    return fail("cuDeviceGetAttribute", r);
  if (CUresult r = api_.cuDeviceGetAttribute(
          &minor_, kAttributeComputeCapabilityMinor, device_);
      r != kSuccess)
    return fail("cuDeviceGetAttribute", r);
  if (CUresult r = api_.cuDevicePrimaryCtxRetain(&context_, device_);
      r != kSuccess)
    return fail("cuDevicePrimaryCtxRetain", r);
  if (CUresult r = api_.cuCtxSetCurrent(context_); r != kSuccess)
    return fail("cuCtxSetCurrent", r);
  if (const char *env = std::getenv("DGC_CUDA_SYNC"); env && *env == '1')
    syncEachLaunch_ = true;
  // Non-blocking: no implicit ordering with the legacy default stream.
  if (CUresult r = api_.cuStreamCreate(&stream_, kStreamNonBlocking);
      r != kSuccess)
    return fail("cuStreamCreate", r);
  return Status();
}

Result<std::unique_ptr<CudaDevice>> CudaDevice::open() {
  std::unique_ptr<CudaDevice> device(new CudaDevice());
  if (Status s = device->initialise(); !s)
    return Error{s.error()};
  return device;
}

namespace {
std::mutex processDeviceMutex;
// Never destroyed: loaded modules keep its handles until exit, and tearing
// a context down during static destruction races the driver's own exit.
CudaDevice *processDevice = nullptr;
} // namespace

Status CudaDevice::requestOrdinal(int ordinal) {
  std::lock_guard<std::mutex> lock(processDeviceMutex);
  if (processDevice && processDevice->ordinal() != ordinal)
    return Error{"cuda:" + std::to_string(ordinal) +
                 ": this process already "
                 "uses GPU " +
                 std::to_string(processDevice->ordinal())};
  requestedOrdinal = ordinal;
  return Status();
}

Result<CudaDevice *> CudaDevice::get() {
  std::lock_guard<std::mutex> lock(processDeviceMutex);
  CudaDevice *&device = processDevice;
  if (device)
    return device;
  Result<std::unique_ptr<CudaDevice>> opened = open();
  if (!opened)
    return Error{opened.error()};
  device = opened->release();
  return device;
}

CudaDevice::~CudaDevice() {
  if (context_ && makeCurrent()) {
    if (stream_)
      api_.cuStreamSynchronize(stream_);
    for (void *pointer : deferredFrees_)
      api_.cuMemFree(reinterpret_cast<CUdeviceptr>(pointer));
    if (stream_)
      api_.cuStreamDestroy(stream_);
    for (const auto &[text, module] : modulesByText_)
      api_.cuModuleUnload(module);
    api_.cuDevicePrimaryCtxRelease(device_);
  }
  if (handle_)
    dlclose(handle_);
}

bool CudaDevice::makeCurrent() const {
  return context_ && api_.cuCtxSetCurrent(context_) == kSuccess;
}

Result<void *> CudaDevice::allocManaged(size_t bytes, const std::string &what) {
  makeCurrent();
  CUdeviceptr pointer = 0;
  // The driver refuses empty allocations; a byte keeps the pointer unique.
  CUresult r = api_.cuMemAllocManaged(&pointer, std::max<size_t>(bytes, 1),
                                      kMemAttachGlobal);
  if (r != kSuccess)
    return Error{"cannot allocate " + std::to_string(bytes) +
                 " bytes of managed memory for " + what + ": " +
                 describeCudaFailure({"cuMemAllocManaged", r, "", ""}, &api_)};
  return reinterpret_cast<void *>(pointer);
}

Result<void *> CudaDevice::allocDevice(size_t bytes, const std::string &what) {
  makeCurrent();
  size_t free = 0, total = 0;
  if (api_.cuMemGetInfo && api_.cuMemGetInfo(&free, &total) == kSuccess &&
      bytes > free)
    return Error{what + " needs " + gigabytes(bytes) + " of GPU memory; " +
                 gigabytes(free) + " of " + gigabytes(total) + " are free on " +
                 name_};
  CUdeviceptr pointer = 0;
  CUresult r = api_.cuMemAlloc(&pointer, std::max<size_t>(bytes, 1));
  if (r != kSuccess)
    return Error{"cannot allocate " + std::to_string(bytes) +
                 " bytes of GPU memory for " + what + ": " +
                 describeCudaFailure({"cuMemAlloc", r, "", ""}, &api_)};
  return reinterpret_cast<void *>(pointer);
}

void CudaDevice::release(void *pointer) {
  if (!pointer)
    return;
  makeCurrent();
  api_.cuMemFree(reinterpret_cast<CUdeviceptr>(pointer));
}

Status CudaDevice::upload(void *device, const void *host, size_t bytes) {
  if (!bytes)
    return Status();
  // Kernels queued on the stream may still read the old bytes.
  synchronize();
  makeCurrent();
  CUresult r =
      api_.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(device), host, bytes);
  if (r != kSuccess)
    return Error{"cannot copy " + std::to_string(bytes) +
                 " bytes to the GPU: " +
                 describeCudaFailure({"cuMemcpyHtoD", r, "", ""}, &api_)};
  return Status();
}

Status CudaDevice::download(void *host, const void *device, size_t bytes) {
  if (!bytes)
    return Status();
  synchronize();
  makeCurrent();
  CUresult r =
      api_.cuMemcpyDtoH(host, reinterpret_cast<CUdeviceptr>(device), bytes);
  if (r != kSuccess)
    return Error{"cannot copy " + std::to_string(bytes) +
                 " bytes from the GPU: " +
                 describeCudaFailure({"cuMemcpyDtoH", r, "", ""}, &api_)};
  return Status();
}

Status CudaDevice::prefetchToDevice(const void *pointer, size_t bytes) {
  if (!api_.cuMemPrefetchAsync || !pointer || !bytes)
    return Status();
  makeCurrent();
  CUmemLocation device{/*CU_MEM_LOCATION_TYPE_DEVICE=*/1, ordinal_};
  CUresult r = api_.cuMemPrefetchAsync(reinterpret_cast<CUdeviceptr>(pointer),
                                       bytes, device, 0, stream_);
  if (r == kSuccess)
    r = api_.cuStreamSynchronize(stream_);
  if (r != kSuccess)
    return Error{"cannot move " + std::to_string(bytes) +
                 " bytes of managed memory to the GPU: " +
                 describeCudaFailure({"cuMemPrefetchAsync", r, "", ""}, &api_)};
  return Status();
}

Status CudaDevice::zero(void *pointer, size_t bytes) {
  if (!pointer || !bytes)
    return Status();
  makeCurrent();
  CUresult r =
      api_.cuMemsetD8Async
          ? api_.cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(pointer), 0,
                                 bytes, stream_)
          : kErrorInvalidValue;
  if (r == kSuccess)
    r = api_.cuStreamSynchronize(stream_);
  if (r != kSuccess)
    return Error{"cannot zero " + std::to_string(bytes) +
                 " bytes on the GPU: " +
                 describeCudaFailure({"cuMemsetD8Async", r, "", ""}, &api_)};
  return Status();
}

std::string CudaDevice::chipProblem(const std::string &chip) const {
  if (chip.rfind("sm_", 0) != 0)
    return "";
  size_t end = chip.find_first_not_of("0123456789", 3);
  std::string number = chip.substr(3, end == std::string::npos ? end : end - 3);
  std::string suffix = end == std::string::npos ? "" : chip.substr(end);
  if (number.size() < 2 || number.size() > 3 || (suffix != "" && suffix != "a"))
    return "";
  int wanted = std::stoi(number), have = major_ * 10 + minor_;
  if (suffix == "a" ? have == wanted : have >= wanted)
    return "";
  std::string haveChip = "sm_" + std::to_string(have);
  return "the module was compiled for " + chip + ", GPU " +
         std::to_string(ordinal_) + " (" + name_ + ") is " + haveChip +
         ": compile it with --chip " + haveChip;
}

InputCopies::~InputCopies() {
  for (void *buffer : buffers_)
    device_.free(buffer);
}

Result<void *> InputCopies::copy(const void *data, size_t bytes,
                                 const std::string &what) {
  void *buffer = device_.allocate(std::max<size_t>(bytes, 1), managed_);
  if (!buffer) {
    Status error = CudaDevice::takeError();
    return Error{"cannot allocate " + std::to_string(bytes) + " bytes for " +
                 what + ": " + error.error()};
  }
  buffers_.push_back(buffer);
  if (managed_) {
    // The pool's buffer may still be read by kernels queued before.
    device_.synchronize();
    if (bytes)
      std::memcpy(buffer, data, bytes);
  } else if (Status s = device_.upload(buffer, data, bytes); !s) {
    return Error{what + ": " + s.error()};
  }
  return buffer;
}

} // namespace dgc::runtime
