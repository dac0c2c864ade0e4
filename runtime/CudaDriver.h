//===- CudaDriver.h - The CUDA driver, loaded at run time -------*- C++ -*-===//
//
// The runtime does not link libcuda: the driver is opened with dlopen the
// first time a module runs on the cuda device, so the runtime builds, loads
// and runs host modules on machines without a driver. The few driver types
// and constants used are declared here with cuda.h's values.
//
// A compiled cuda module (cuda.so) launches its kernels through the `mgpu*`
// functions (CudaABI.cpp), which work on the one CudaDevice of the process.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_CUDADRIVER_H
#define DGC_RUNTIME_CUDADRIVER_H

#include "dgc/runtime/KVCache.h"

#include "CudaTypes.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dgc::runtime {

namespace cuda {

// CUresult values.
constexpr CUresult kSuccess = 0;
constexpr CUresult kErrorInvalidValue = 1;
constexpr CUresult kErrorOutOfMemory = 2;
constexpr CUresult kErrorStubLibrary = 34;
constexpr CUresult kErrorNoDevice = 100;
constexpr CUresult kErrorInvalidDevice = 101;
constexpr CUresult kErrorInvalidImage = 200;
constexpr CUresult kErrorNoBinaryForGpu = 209;
constexpr CUresult kErrorInvalidPtx = 218;
constexpr CUresult kErrorUnsupportedPtxVersion = 222;
constexpr CUresult kErrorIllegalAddress = 700;
constexpr CUresult kErrorLaunchOutOfResources = 701;
constexpr CUresult kErrorLaunchFailed = 719;

// CUjit_option, CUdevice_attribute, CUfunction_attribute and flag values.
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSizeBytes = 6;
constexpr int kJitOptimizationLevel = 7;
constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
constexpr int kFuncAttributeMaxDynamicSharedSizeBytes = 8;
constexpr unsigned kMemAttachGlobal = 0x1;
constexpr unsigned kStreamNonBlocking = 0x1;
/// CU_STREAM_CAPTURE_MODE_RELAXED: other threads' unsafe calls stay legal.
constexpr int kStreamCaptureModeRelaxed = 2;

/// The driver functions the runtime calls, resolved by their versioned
/// symbol names (cuMemAlloc_v2, ...) as cuda.h's macros would.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  /// Optional: free and total device memory, checked before large buffers.
  CUresult (*cuMemGetInfo)(size_t *, size_t *);
  /// Optional: sets memory on the GPU, in stream order.
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  /// Optional (drivers for CUDA 12.2 and later): moves managed memory.
  CUresult (*cuMemPrefetchAsync)(CUdeviceptr, size_t, CUmemLocation, unsigned,
                                 CUstream);
  /// Optional (CUDA 11.4 and later): recording and replaying a graph call.
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  /// Optional: what a profiler started with profiling off measures.
  CUresult (*cuProfilerStart)();
  CUresult (*cuProfilerStop)();
  // Optional: messages fall back to the runtime's own names without them.
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
};
} // namespace cuda

/// What to say about a failed driver call.
struct CudaFailure {
  std::string call; // the driver function, e.g. "cuInit"
  cuda::CUresult code = cuda::kSuccess;
  std::string kernel; // the kernel concerned, if any
  std::string log;    // the JIT compiler's error log, if any
};

/// The CUresult's name ("CUDA_ERROR_NO_DEVICE"), from the runtime's own
/// table; "CUDA error N" for codes it does not know.
std::string cudaErrorName(cuda::CUresult code);
/// What the user can do about `code`; empty when there is nothing specific.
std::string cudaErrorHint(cuda::CUresult code, const std::string &kernel);
/// "CALL failed: NAME (N): TEXT; HINT" and the JIT log; `api` (may be null)
/// supplies the driver's own name and text for the code.
std::string describeCudaFailure(const CudaFailure &failure,
                                const cuda::DriverApi *api);

/// One GPU with its primary context and the stream every launch uses.
class CudaDevice {
  /// What a freed buffer can serve again: its rounded size and kind.
  struct BufferClass {
    size_t bytes = 0;
    bool managed = true;
    bool operator<(const BufferClass &o) const {
      return bytes != o.bytes ? bytes < o.bytes : managed < o.managed;
    }
  };

public:
  /// The process's device, initialised on first success: the driver library
  /// (env DGC_LIBCUDA, else libcuda.so.1), cuInit, device DGC_CUDA_DEVICE
  /// (default 0), its primary context made current. Failures are not cached.
  static Result<CudaDevice *> get();
  /// Picks the GPU get() opens (`--device cuda:N`), over DGC_CUDA_DEVICE;
  /// an error once the process's device is open on another one.
  static Status requestOrdinal(int ordinal);
  /// A new, uncached device as get() would make it; for probes and tests.
  static Result<std::unique_ptr<CudaDevice>> open();
  ~CudaDevice();
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  const cuda::DriverApi &api() const { return api_; }
  const std::string &library() const { return library_; }
  int ordinal() const { return ordinal_; }
  const std::string &name() const { return name_; }
  int computeMajor() const { return major_; }
  int computeMinor() const { return minor_; }
  /// Makes the device's context current on the calling thread.
  bool makeCurrent() const;
  /// Why code compiled for `chip` (sm_XY, or sm_XYa for that architecture
  /// only) cannot run on this GPU; empty when it can or the chip is
  /// unfamiliar.
  std::string chipProblem(const std::string &chip) const;

  /// Managed memory for the runtime's own buffers (weight arena, inputs)
  /// where the module's host code reads them too.
  Result<void *> allocManaged(size_t bytes, const std::string &what);
  /// Device memory, which only kernels and copies reach; the free memory is
  /// checked first, so that too large a request names both sizes.
  Result<void *> allocDevice(size_t bytes, const std::string &what);
  /// Frees memory of allocManaged() or allocDevice().
  void release(void *pointer);
  /// Copies to and from device memory, after the kernels queued before.
  Status upload(void *device, const void *host, size_t bytes);
  Status download(void *host, const void *device, size_t bytes);
  /// Zeroes device or managed memory on the GPU and waits.
  Status zero(void *pointer, size_t bytes);
  /// Migrates managed memory to the GPU ahead of the kernels that read it
  /// and waits; without the driver call, the first kernels fault it in.
  Status prefetchToDevice(const void *pointer, size_t bytes);

  // The mgpu* ABI (CudaABI.cpp).
  /// The module of the PTX text at `ptx`, loaded once and kept while the
  /// device lives. Compiled code asks again around every launch, so the
  /// first lookup is by address; a new address is looked up by its text.
  void *loadModule(const void *ptx, int optLevel);
  /// Forgets the addresses in [begin, end): the host code that held that
  /// PTX is being unloaded, and other code mapped there later (every kernel
  /// has the same entry name) must not be served these modules.
  void unloadModulesIn(const void *begin, const void *end);
  void *function(void *module, const char *name);
  void launch(void *function, const int64_t grid[3], const int64_t block[3],
              int32_t sharedMemBytes, void **params, void **extra);
  void synchronize();
  void *stream() const { return stream_; }
  /// Managed or device memory for mgpuMemAlloc; null after recording the
  /// failure. Buffers of the kind and rounded size the module freed are
  /// reused first.
  void *allocate(size_t bytes, bool managed);
  /// Compiled code frees a buffer right after queueing its last reader. A
  /// buffer of allocate() is kept for a later allocate() of its kind and
  /// size: every kernel runs on the one stream, so its next users are
  /// queued after its last ones, and the host touches a module's buffers
  /// only after waiting. Other device memory is freed at once when nothing
  /// is queued, else at the next synchronize().
  void free(void *pointer);
  /// Bytes of freed buffers kept for reuse.
  size_t reusableBytes();

  /// The kernels a graph call queued, recorded as a CUDA graph, with every
  /// buffer they use: replaying it reruns them on the same buffers.
  class Recording {
  public:
    ~Recording();
    Recording(const Recording &) = delete;
    Recording &operator=(const Recording &) = delete;
    /// Launches the kernels and waits for them.
    Status replay();

  private:
    friend class CudaDevice;
    Recording(CudaDevice &device) : device_(device) {}
    CudaDevice &device_;
    cuda::CUgraph graph_ = nullptr;
    cuda::CUgraphExec exec_ = nullptr;
    // The buffers the kernels use, with their kinds.
    std::vector<std::pair<void *, BufferClass>> buffers_;
  };
  /// Whether this driver can record graphs.
  bool canRecord() const;
  /// From now until endRecording(), launches are recorded rather than run
  /// and waits are skipped. Buffers the module allocates meanwhile belong to
  /// the recording; one freed during it serves later allocations of the
  /// same recording only.
  Status beginRecording();
  Result<std::unique_ptr<Recording>> endRecording();

  /// Records the first error of the process's CUDA calls; launches are
  /// skipped until it is taken.
  static void recordError(const std::string &message);
  static bool hasError();
  /// Returns the recorded error, if any, and clears it.
  static Status takeError();
  /// Whether `pointer` came from mgpuMemAlloc and is not yet freed.
  static bool ownsAllocation(const void *pointer);

private:
  CudaDevice() = default;
  Status initialise();
  /// Records a failed call (see recordError); true on success.
  bool check(cuda::CUresult code, const char *call,
             const std::string &kernel = "", const std::string &log = "");
  void synchronizeLocked(); // with mutex_ held

  void *handle_ = nullptr; // the dlopen handle
  std::string library_;
  cuda::DriverApi api_{};
  cuda::CUdevice device_ = 0;
  int ordinal_ = 0, major_ = 0, minor_ = 0;
  std::string name_;
  cuda::CUcontext context_ = nullptr;
  cuda::CUstream stream_ = nullptr;

  std::mutex mutex_;                               // guards the caches
  std::map<const void *, cuda::CUmodule> modules_; // by the PTX's address
  std::unordered_map<std::string, cuda::CUmodule> modulesByText_;
  std::map<std::pair<cuda::CUmodule, std::string>, cuda::CUfunction> functions_;
  std::map<cuda::CUfunction, std::string> kernelNames_;
  std::string lastKernel_;      // names the kernel an asynchronous fault hit
  bool queued_ = false;         // launches since the last synchronize()
  bool syncEachLaunch_ = false; // DGC_CUDA_SYNC=1
  // Buffers freed while kernels that may use them were queued.
  std::vector<void *> deferredFrees_;
  // Buffers of mgpuMemAlloc: live ones with their kinds, freed ones by
  // kind, waiting for reuse.
  std::map<void *, BufferClass> liveBuffers_;
  std::multimap<BufferClass, void *> reusable_;
  // While recording: buffers allocated (all the recording's) and those of
  // them freed, which later allocations of the recording may take.
  bool recording_ = false;
  std::vector<void *> recorded_;
  std::multimap<BufferClass, void *> recordedFree_;
  // Buffers of live recordings, with their sizes: a free is theirs to do.
  std::map<void *, BufferClass> ownedByRecordings_;
  /// Frees every reusable buffer (after a synchronize, with mutex_ held).
  void releaseReusableLocked();
};

/// Why a launch of `grid` blocks of `block` threads is beyond what any CUDA
/// GPU accepts (block z at most 64, grid y and z at most 65535, ...); empty
/// when it is not.
std::string launchDimensionProblem(const int64_t grid[3],
                                   const int64_t block[3]);

/// Copies of host buffers on the GPU (device or managed memory from the
/// device's pool, so that the next call's inputs reuse them), given back
/// with it: a graph call's inputs.
class InputCopies {
public:
  InputCopies(CudaDevice &device, bool managed)
      : device_(device), managed_(managed) {}
  ~InputCopies();
  InputCopies(const InputCopies &) = delete;
  InputCopies &operator=(const InputCopies &) = delete;
  Result<void *> copy(const void *data, size_t bytes, const std::string &what);

private:
  CudaDevice &device_;
  bool managed_;
  std::vector<void *> buffers_;
};

} // namespace dgc::runtime

extern "C" {
// MLIR's gpu-to-llvm runtime ABI, which a compiled cuda module calls.
void *mgpuModuleLoadJIT(void *ptx, int32_t optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, int64_t gridX, int64_t gridY,
                      int64_t gridZ, int64_t blockX, int64_t blockY,
                      int64_t blockZ, int32_t sharedMemBytes, void *stream,
                      void **params, void **extra, int64_t paramsCount);
void *mgpuStreamCreate();
void mgpuStreamSynchronize(void *stream);
void mgpuStreamDestroy(void *stream);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *pointer, void *stream);
}

#endif // DGC_RUNTIME_CUDADRIVER_H
