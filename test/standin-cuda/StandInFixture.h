//===- StandInFixture.h - The stand-in driver, called by tests --*- C++ -*-===//
//
// The stand-in library's driver functions, resolved by name as the runtime
// resolves them, and a test fixture with a context, a stream and a buffer.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_STANDINCUDA_STANDINFIXTURE_H
#define DGC_TEST_STANDINCUDA_STANDINFIXTURE_H

#include "StandInLog.h"

#include "CudaTypes.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace dgc::standin::test {

using namespace runtime::cuda; // the driver's C types

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGetName)(char *, int, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, int);
  CUresult (*cuDevicePrimaryCtxRelease_v2)(int);
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
  CUresult (*cuStreamDestroy_v2)(CUstream);
  CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree_v2)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemGetInfo_v2)(size_t *, size_t *);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuMemPrefetchAsync_v2)(CUdeviceptr, size_t, CUmemLocation,
                                    unsigned, CUstream);
  CUresult (*cuStreamBeginCapture_v2)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuGetErrorString)(CUresult, const char **);
};

inline const Driver *driver() {
  static Driver d{};
  static bool loaded = [] {
    void *h = dlopen(DGC_STANDIN_CUDA, RTLD_NOW | RTLD_LOCAL);
    if (!h)
      return false;
    bool all = true;
#define DGC_RESOLVE(name)                                                      \
  d.name = reinterpret_cast<decltype(d.name)>(dlsym(h, #name));                \
  all = all && d.name;
    DGC_RESOLVE(cuInit)
    DGC_RESOLVE(cuDeviceGetCount)
    DGC_RESOLVE(cuDeviceGetName)
    DGC_RESOLVE(cuDeviceGetAttribute)
    DGC_RESOLVE(cuDevicePrimaryCtxRetain)
    DGC_RESOLVE(cuDevicePrimaryCtxRelease_v2)
    DGC_RESOLVE(cuCtxSetCurrent)
    DGC_RESOLVE(cuModuleLoadDataEx)
    DGC_RESOLVE(cuModuleUnload)
    DGC_RESOLVE(cuModuleGetFunction)
    DGC_RESOLVE(cuFuncSetAttribute)
    DGC_RESOLVE(cuLaunchKernel)
    DGC_RESOLVE(cuStreamCreate)
    DGC_RESOLVE(cuStreamSynchronize)
    DGC_RESOLVE(cuStreamDestroy_v2)
    DGC_RESOLVE(cuMemAlloc_v2)
    DGC_RESOLVE(cuMemAllocManaged)
    DGC_RESOLVE(cuMemFree_v2)
    DGC_RESOLVE(cuMemcpyHtoD_v2)
    DGC_RESOLVE(cuMemcpyDtoH_v2)
    DGC_RESOLVE(cuMemGetInfo_v2)
    DGC_RESOLVE(cuMemsetD8Async)
    DGC_RESOLVE(cuMemPrefetchAsync_v2)
    DGC_RESOLVE(cuStreamBeginCapture_v2)
    DGC_RESOLVE(cuStreamEndCapture)
    DGC_RESOLVE(cuGraphInstantiateWithFlags)
    DGC_RESOLVE(cuGraphLaunch)
    DGC_RESOLVE(cuGraphExecDestroy)
    DGC_RESOLVE(cuGraphDestroy)
    DGC_RESOLVE(cuGetErrorString)
#undef DGC_RESOLVE
    return all;
  }();
  return loaded ? &d : nullptr;
}

// CUresult values.
constexpr CUresult kInvalidValue = 1, kOutOfMemory = 2, kInvalidImage = 200,
                   kInvalidContext = 201, kInvalidPtx = 218,
                   kUnsupportedPtxVersion = 222, kInvalidHandle = 400,
                   kNotFound = 500, kIllegalAddress = 700,
                   kOutOfResources = 701, kCaptureUnsupported = 900,
                   kCaptureInvalidated = 901;

/// A kernel `scale(data, n)` with `directives` after its parameters and
/// `body` before its `ret`; `prelude` goes between the header and it.
inline std::string kernelPtx(const std::string &directives = "",
                             const std::string &body = "",
                             const std::string &prelude = "",
                             const std::string &version = "8.0",
                             const std::string &target = "sm_90a") {
  return ".version " + version + "\n.target " + target +
         "\n.address_size 64\n\n" + prelude +
         "\n// a comment: .entry nothing(\n"
         ".visible .entry scale(\n"
         "\t.param .u64 .ptr .align 1 scale_param_0,\n"
         "\t.param .u32 scale_param_1\n)\n" +
         directives + "\n{\n\t.reg .b32 %r<2>;\n" + body + "\n\tret;\n}\n";
}

inline bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

class StandIn : public testing::Test {
protected:
  void SetUp() override {
    d = driver();
    log = StandInLog::open(DGC_STANDIN_CUDA);
    ASSERT_TRUE(d && log) << "cannot load " << DGC_STANDIN_CUDA;
    ASSERT_EQ(d->cuInit(0), 0);
    ASSERT_EQ(d->cuDevicePrimaryCtxRetain(&context, 0), 0);
    ASSERT_EQ(d->cuCtxSetCurrent(context), 0);
    ASSERT_EQ(d->cuStreamCreate(&stream, 1), 0);
    ASSERT_EQ(d->cuMemAllocManaged(&buffer, 4096, 1), 0);
  }
  void TearDown() override {
    if (!d)
      return;
    d->cuMemFree_v2(buffer);
    d->cuStreamDestroy_v2(stream);
    d->cuDevicePrimaryCtxRelease_v2(0);
  }

  /// Loads `ptx`: the result code, the module and the JIT error log.
  CUresult load(const std::string &ptx, CUmodule &module,
                std::string *jitLog = nullptr) {
    char text[1024] = {};
    int options[] = {5, 6};
    void *values[] = {text, reinterpret_cast<void *>(uintptr_t(sizeof text))};
    CUresult r =
        d->cuModuleLoadDataEx(&module, ptx.c_str(), 2, options, values);
    if (jitLog)
      *jitLog = text;
    // The size option comes back as the bytes written.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(values[1]), strlen(text));
    return r;
  }
  CUfunction scale(const std::string &ptx) {
    CUmodule module = nullptr;
    CUfunction f = nullptr;
    EXPECT_EQ(load(ptx, module), 0) << log->lastFailure();
    EXPECT_EQ(d->cuModuleGetFunction(&f, module, "scale"), 0);
    return f;
  }
  /// Launches `f` on `buffer` with `block` threads and `shared` bytes.
  CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                  unsigned bx, unsigned by, unsigned bz, unsigned shared = 0) {
    uint32_t n = 16;
    void *params[] = {&buffer, &n};
    return d->cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, stream, params,
                             nullptr);
  }

  const Driver *d = nullptr;
  const StandInLog *log = nullptr;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  CUdeviceptr buffer = 0;
};

} // namespace dgc::standin::test

#endif // DGC_TEST_STANDINCUDA_STANDINFIXTURE_H
