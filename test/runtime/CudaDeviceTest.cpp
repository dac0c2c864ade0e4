//===- CudaDeviceTest.cpp - The cuda device, with and without a GPU -------===//
//
// Without a driver (or with the toolkit's stub) every path must end in a clear
// error, never a crash or a hang; with a GPU a hand-written PTX kernel runs
// through the mgpu* functions a compiled cuda module calls. On the stand-in
// driver (DGC_LIBCUDA, test/standin-cuda), which runs no kernel, the tests
// that need one do what its log says was launched.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include "StandInLog.h"
#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/Sha256.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

using namespace dgc::runtime;
using dgc::standin::StandInLog;
namespace fs = std::filesystem;

namespace {

/// Sets (or, with nullopt, unsets) an environment variable for a scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, std::optional<std::string> value) : name(name) {
    if (const char *old = std::getenv(name))
      saved = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved)
      setenv(name, saved->c_str(), 1);
    else
      unsetenv(name);
  }

private:
  const char *name;
  std::optional<std::string> saved;
};

bool driverInstalled() {
  void *handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (handle)
    dlclose(handle);
  return handle != nullptr;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// A manifest with the given "targets" object and one trivial graph.
std::string manifestText(const std::string &targets) {
  return R"({"format": "dgc-module", "version": 4,
    "model": {"canvas_length": 4, "vocab_size": 8, "hidden_size": 2},
    "targets": )" +
         targets + R"(,
    "weights": {"bytes": 0, "tensors": []},
    "graphs": {"decoder": {"symbol": "_mlir_ciface_decoder",
      "inputs": [{"name": "weights", "dtype": "i8", "shape": [-1]}],
      "outputs": []}}})";
}

/// A module directory holding only a manifest.
std::string writeModule(const std::string &name, const std::string &targets) {
  fs::path dir = fs::path(testing::TempDir()) / ("dgc-cuda-" + name + ".dgm");
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string manifest = manifestText(targets);
  std::ofstream(dir / "manifest.json") << manifest;
  std::ofstream(dir / "SHA256SUMS")
      << sha256Hex(manifest) << "  manifest.json\n";
  return dir.string();
}

const char *kBothTargets = R"({"host": {"library": "host.so"},
  "cuda": {"library": "cuda.so", "chip": "sm_90a"}})";

// Adds 1 to each of n floats; PTX ISA 7.0 for sm_50 loads on any GPU since.
const char *kAddOnePtx = R"(.version 7.0
.target sm_50
.address_size 64

.visible .entry add_one(.param .u64 data, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [data];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r5, 4;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.f32 %f1, [%rd4];
  add.f32 %f2, %f1, 0f3F800000;
  st.global.f32 [%rd4], %f2;
DONE:
  ret;
}
)";

/// On the stand-in driver, does to `data` what the add_one launches logged
/// from `first` on would have: each adds its module's immediate, so the
/// result still says which module's code was launched. On a GPU (no log)
/// they ran.
void runLoggedAddOnes(const StandInLog *log, size_t first, float *data,
                      uint32_t n) {
  for (size_t i = first; log && i < log->launchCount(); ++i) {
    std::string ptx = log->launchModulePtx(i);
    size_t at = ptx.find("0f", ptx.find("add.f32"));
    ASSERT_NE(at, std::string::npos) << ptx;
    uint32_t bits = std::stoul(ptx.substr(at + 2, 8), nullptr, 16);
    float added;
    std::memcpy(&added, &bits, sizeof added);
    for (uint32_t j = 0; j < n; ++j)
      data[j] += added;
  }
}

TEST(CudaDevice, NoDriverIsAClearError) {
  ScopedEnv env("DGC_LIBCUDA", std::nullopt);
  if (driverInstalled())
    GTEST_SKIP() << "an NVIDIA driver is installed here";
  auto device = CudaDevice::get();
  ASSERT_FALSE(device);
  EXPECT_TRUE(contains(device.error(),
                       "no NVIDIA driver: libcuda.so.1 was not found; install "
                       "the driver or run with --device host"))
      << device.error();
  auto module =
      CompiledModule::load(writeModule("nodriver", kBothTargets), Device::Cuda);
  ASSERT_FALSE(module);
  EXPECT_TRUE(contains(module.error(), "the cuda device is unavailable"))
      << module.error();
  EXPECT_TRUE(contains(module.error(), "no NVIDIA driver")) << module.error();
}

TEST(CudaDevice, StubLibraryIsNamed) {
#ifndef DGC_CUDA_STUB
  GTEST_SKIP() << "no CUDA toolkit was found at configure time";
#else
  if (!fs::exists(DGC_CUDA_STUB))
    GTEST_SKIP() << DGC_CUDA_STUB << " does not exist";
  ScopedEnv env("DGC_LIBCUDA", DGC_CUDA_STUB);
  auto device = CudaDevice::open();
  ASSERT_FALSE(device);
  const std::string &error = device.error();
  EXPECT_TRUE(contains(error, "cuInit failed")) << error;
  EXPECT_TRUE(contains(error, "CUDA_ERROR_STUB_LIBRARY (34)")) << error;
  EXPECT_TRUE(
      contains(error, "this libcuda is the CUDA toolkit's stub, not a driver"))
      << error;
  EXPECT_TRUE(contains(error, DGC_CUDA_STUB)) << error;
#endif
}

TEST(CudaDevice, ChosenLibraryThatDoesNotLoad) {
  ScopedEnv env("DGC_LIBCUDA", "/nonexistent/libcuda.so.1");
  auto device = CudaDevice::open();
  ASSERT_FALSE(device);
  EXPECT_TRUE(contains(device.error(), "DGC_LIBCUDA=/nonexistent/libcuda.so.1:"
                                       " cannot load the CUDA driver"))
      << device.error();
}

TEST(CudaErrors, HintsPerCode) {
  auto describe = [](int code, const std::string &kernel = "",
                     const std::string &log = "") {
    return describeCudaFailure({"cuCall", code, kernel, log}, nullptr);
  };
  EXPECT_TRUE(contains(describe(34),
                       "cuCall failed: CUDA_ERROR_STUB_LIBRARY (34); "
                       "this libcuda is the CUDA toolkit's stub"));
  EXPECT_TRUE(contains(describe(100), "CUDA_ERROR_NO_DEVICE (100); no GPU "
                                      "visible (check nvidia-smi and "
                                      "CUDA_VISIBLE_DEVICES)"));
  for (int code : {200, 209, 218, 222})
    EXPECT_TRUE(contains(describe(code),
                         "the driver cannot load PTX for this GPU: compile "
                         "with --chip matching it and a driver supporting PTX "
                         "ISA 8.0"))
        << describe(code);
  EXPECT_TRUE(contains(describe(218), "CUDA_ERROR_INVALID_PTX (218)"));
  EXPECT_TRUE(contains(describe(2), "CUDA_ERROR_OUT_OF_MEMORY (2)"));
  EXPECT_TRUE(contains(describe(2), "KV-cache pages"));
  std::string launch = describe(719, "fused_softmax_0");
  EXPECT_TRUE(contains(launch, "cuCall (kernel 'fused_softmax_0') failed: "
                               "CUDA_ERROR_LAUNCH_FAILED (719)"))
      << launch;
  EXPECT_TRUE(contains(launch, "kernel 'fused_softmax_0' failed on the GPU"));
  EXPECT_TRUE(contains(describe(701, "k"), "kernel 'k' needs more registers"));
  EXPECT_TRUE(contains(describe(218, "k", "ptxas fatal: bad"),
                       "\nJIT log:\nptxas fatal: bad"));
  std::string unknown = describe(12345);
  EXPECT_EQ(unknown, "cuCall failed: CUDA error 12345 (12345)");
}

// Launch shapes the driver would refuse with a bare "invalid argument" are
// named before the launch.
TEST(CudaErrors, LaunchDimensionsBeyondTheHardware) {
  auto problem = [](std::array<int64_t, 3> grid, std::array<int64_t, 3> block) {
    return launchDimensionProblem(grid.data(), block.data());
  };
  EXPECT_EQ(problem({1 << 20, 65535, 65535}, {1024, 1, 1}), "");
  EXPECT_EQ(problem({1, 1, 1}, {4, 4, 64}), "");
  EXPECT_EQ(problem({1, 1, 1}, {1, 1, 256}),
            "block z of 256 threads is outside [0, 64]");
  EXPECT_EQ(problem({1, 65536, 1}, {32, 1, 1}),
            "grid y of 65536 blocks is outside [0, 65535]");
  EXPECT_EQ(problem({1, 1, 1}, {64, 32, 1}),
            "a block of 64 x 32 x 1 threads is more than 1024");
  EXPECT_EQ(problem({int64_t(1) << 31, 1, 1}, {1, 1, 1}),
            "grid x of 2147483648 blocks is outside [0, 2147483647]");
}

TEST(CudaManifest, HostOnlyHasNoCudaTarget) {
  auto manifest =
      parseManifest(manifestText(R"({"host": {"library": "host.so"}})"),
                    "m.dgm/manifest.json");
  ASSERT_TRUE(manifest) << manifest.error();
  EXPECT_EQ(manifest->library, "host.so");
  auto target = selectTarget(*manifest, "cuda");
  ASSERT_FALSE(target);
  EXPECT_TRUE(contains(target.error(),
                       "m.dgm has no cuda target: compile it with dgc compile "
                       "--target cuda (or all)"))
      << target.error();
}

TEST(CudaManifest, BothTargetsParse) {
  auto manifest = parseManifest(manifestText(kBothTargets), "manifest.json");
  ASSERT_TRUE(manifest) << manifest.error();
  EXPECT_EQ(manifest->library, "host.so");
  ASSERT_EQ(manifest->targets.size(), 2u);
  EXPECT_EQ(manifest->targets.at("host").library, "host.so");
  EXPECT_EQ(manifest->targets.at("cuda").library, "cuda.so");
  EXPECT_EQ(manifest->targets.at("cuda").chip, "sm_90a");
  auto cuda = selectTarget(*manifest, "cuda");
  ASSERT_TRUE(cuda);
  EXPECT_EQ(cuda->library, "cuda.so");
}

TEST(CudaManifest, CudaOnlyModuleOnTheHost) {
  std::string dir = writeModule("cudaonly", R"({"cuda": {"library": "cuda.so",
                                           "chip": "sm_90a"}})");
  auto module = CompiledModule::load(dir);
  ASSERT_FALSE(module);
  EXPECT_TRUE(
      contains(module.error(), dir + " has no host target: compile it with dgc "
                                     "compile --target host (or all)"))
      << module.error();
}

TEST(CudaManifest, TargetErrorsNameThePath) {
  auto noChip = parseManifest(
      manifestText(R"({"cuda": {"library": "cuda.so"}})"), "manifest.json");
  ASSERT_FALSE(noChip);
  EXPECT_TRUE(
      contains(noChip.error(), "targets.cuda.chip: required field is missing"))
      << noChip.error();
  auto outside = parseManifest(
      manifestText(R"({"cuda": {"library": "../cuda.so", "chip": "sm_90a"}})"),
      "manifest.json");
  ASSERT_FALSE(outside);
  EXPECT_TRUE(contains(outside.error(), "targets.cuda.library: expected a file "
                                        "name inside the module"))
      << outside.error();
  auto none = parseManifest(manifestText("{}"), "manifest.json");
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error(), "targets: expected an object"));
}

TEST(CudaManifest, ParseDevice) {
  EXPECT_EQ(*parseDevice("host"), Device::Host);
  EXPECT_EQ(*parseDevice("cuda"), Device::Cuda);
  auto bad = parseDevice("tpu");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error(), "expected host, cuda or cuda:N"));
  for (const char *name :
       {"cuda:", "cuda:-1", "cuda:x", "cuda:123456", "cuda0"})
    EXPECT_FALSE(parseDevice(name)) << name;
  // cuda:N picks GPU N before the process's GPU opens (as no test here
  // opens one with this binary's driver, nothing else is said of it).
  EXPECT_EQ(*parseDevice("cuda:0"), Device::Cuda);
  EXPECT_STREQ(deviceName(Device::Cuda), "cuda");
}

TEST(CudaAbi, FallsBackToHostMemoryWithoutADevice) {
  ScopedEnv env("DGC_LIBCUDA", std::nullopt);
  if (CudaDevice::get())
    GTEST_SKIP() << "a GPU is present";
  (void)CudaDevice::takeError();
  EXPECT_EQ(mgpuModuleLoadJIT(const_cast<char *>(kAddOnePtx), 2), nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(nullptr, "add_one"), nullptr);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  mgpuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  mgpuStreamSynchronize(nullptr);
  mgpuStreamDestroy(nullptr);
  mgpuModuleUnload(nullptr);
  auto *buffer = static_cast<float *>(mgpuMemAlloc(64, nullptr, true));
  ASSERT_NE(buffer, nullptr);
  for (int i = 0; i < 16; ++i)
    buffer[i] = static_cast<float>(i); // host code may touch it
  EXPECT_TRUE(CudaDevice::ownsAllocation(buffer));
  mgpuMemFree(buffer, nullptr);
  EXPECT_FALSE(CudaDevice::ownsAllocation(buffer));
  void *empty = mgpuMemAlloc(0, nullptr, true);
  EXPECT_NE(empty, nullptr);
  EXPECT_TRUE(CudaDevice::ownsAllocation(empty));
  mgpuMemFree(empty, nullptr);
  Status error = CudaDevice::takeError();
  ASSERT_FALSE(error);
  EXPECT_TRUE(contains(error.error(), "no NVIDIA driver")) << error.error();
  EXPECT_TRUE(CudaDevice::takeError()); // taken
}

TEST(CudaAbi, LaunchesAHandWrittenKernel) {
  auto device = CudaDevice::get();
  if (!device)
    GTEST_SKIP() << "no GPU: " << device.error();
  (void)CudaDevice::takeError();
  void *ptx = const_cast<char *>(kAddOnePtx);
  void *module = mgpuModuleLoadJIT(ptx, 2);
  ASSERT_NE(module, nullptr) << CudaDevice::takeError().error();
  EXPECT_EQ(mgpuModuleLoadJIT(ptx, 2), module); // cached by the PTX pointer
  void *function = mgpuModuleGetFunction(module, "add_one");
  ASSERT_NE(function, nullptr) << CudaDevice::takeError().error();
  void *stream = mgpuStreamCreate();
  EXPECT_EQ(mgpuStreamCreate(), stream); // the one persistent stream

  constexpr uint32_t n = 1000;
  auto *data = static_cast<float *>(mgpuMemAlloc(n * 4, nullptr, true));
  ASSERT_NE(data, nullptr);
  for (uint32_t i = 0; i < n; ++i)
    data[i] = static_cast<float>(i);
  uint32_t count = n;
  void *params[] = {&data, &count};
  const StandInLog *log = StandInLog::find();
  size_t first = log ? log->launchCount() : 0;
  mgpuLaunchKernel(function, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream,
                   params, nullptr, 2);
  mgpuLaunchKernel(function, 0, 1, 1, 128, 1, 1, 0, stream, params, nullptr,
                   2); // empty: skipped
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
  Status status = CudaDevice::takeError();
  ASSERT_TRUE(status) << status.error();
  if (log) {
    ASSERT_EQ(log->launchCount(), first + 1) << "the empty launch is skipped";
    EXPECT_STREQ(log->lastLaunchKernel(), "add_one");
    EXPECT_STREQ(log->lastLaunchModulePtx(), kAddOnePtx);
    runLoggedAddOnes(log, first, data, n);
  }
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(data[i], static_cast<float>(i) + 1.0f) << "at " << i;
  mgpuMemFree(data, nullptr);

  // Bad PTX: a recorded error naming the call, and no launch afterwards.
  std::string bad = std::string(kAddOnePtx) + "garbage";
  EXPECT_EQ(mgpuModuleLoadJIT(bad.data(), 2), nullptr);
  Status error = CudaDevice::takeError();
  ASSERT_FALSE(error);
  EXPECT_TRUE(contains(error.error(), "cuModuleLoadDataEx (kernel 'add_one')"))
      << error.error();
  EXPECT_TRUE(contains(error.error(), "cannot load PTX")) << error.error();
}

// Module cache: compiled code names every kernel alike and keys its PTX by
// address, so once a library is unloaded and another mapped in its place the
// cache must not serve the old code. The same buffer is loaded with "add
// one", forgotten, rewritten to "add two" (same length, same address) and
// loaded again.
TEST(CudaAbi, UnloadedModulesAreNotServedAgain) {
  auto device = CudaDevice::get();
  if (!device)
    GTEST_SKIP() << "no GPU: " << device.error();
  (void)CudaDevice::takeError();
  std::string ptx = kAddOnePtx;
  size_t one = ptx.find("0f3F800000");
  ASSERT_NE(one, std::string::npos);
  const StandInLog *log = StandInLog::find();
  auto addsAfterLoading = [&]() -> float {
    void *module = mgpuModuleLoadJIT(ptx.data(), 2);
    void *function = mgpuModuleGetFunction(module, "add_one");
    auto *data = static_cast<float *>(mgpuMemAlloc(4, nullptr, true));
    if (!module || !function || !data)
      return -1;
    *data = 0;
    uint32_t count = 1;
    void *params[] = {&data, &count};
    size_t first = log ? log->launchCount() : 0;
    mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, mgpuStreamCreate(), params,
                     nullptr, 2);
    mgpuStreamSynchronize(mgpuStreamCreate());
    runLoggedAddOnes(log, first, data, 1);
    float added = *data;
    mgpuMemFree(data, nullptr);
    return added;
  };
  EXPECT_EQ(addsAfterLoading(), 1.0f);
  (*device)->unloadModulesIn(ptx.data(), ptx.data() + ptx.size());
  ptx.replace(one, 10, "0f40000000");
  EXPECT_EQ(addsAfterLoading(), 2.0f);
  // Another library's range leaves the address known.
  (*device)->unloadModulesIn(ptx.data() + ptx.size(),
                             ptx.data() + ptx.size() + 16);
  ptx.replace(one, 10, "0f3F800000");
  EXPECT_EQ(addsAfterLoading(), 2.0f); // still cached by address
  // Forgotten again, the first text is found loaded (compiled once).
  (*device)->unloadModulesIn(ptx.data(), ptx.data() + ptx.size());
  EXPECT_EQ(addsAfterLoading(), 1.0f);
  (*device)->unloadModulesIn(ptx.data(), ptx.data() + ptx.size());
  Status status = CudaDevice::takeError();
  EXPECT_TRUE(status) << status.error();
}

// Out of memory, the runtime says so, and compiled code gets host memory
// to run on (and the error) rather than a null buffer; idle buffers of
// other sizes are given back before an allocation fails. The stand-in's
// memory budget makes that reachable.
TEST(CudaAbi, OutOfMemory) {
  auto device = CudaDevice::get();
  const StandInLog *log = StandInLog::find();
  if (!device || !log)
    GTEST_SKIP() << "needs the stand-in driver (DGC_LIBCUDA)";
  (void)CudaDevice::takeError();
  constexpr size_t mb = 1 << 20;
  (*device)->synchronize();
  log->setMemoryLimit(log->bytesAllocated() + (*device)->reusableBytes() + mb);
  auto arena = (*device)->allocManaged(2 * mb, "the weight arena");
  ASSERT_FALSE(arena);
  EXPECT_TRUE(contains(arena.error(), "cannot allocate 2097152 bytes of "
                                      "managed memory for the weight arena"))
      << arena.error();
  EXPECT_TRUE(contains(arena.error(), "CUDA_ERROR_OUT_OF_MEMORY (2)"));
  EXPECT_TRUE(contains(arena.error(), "fewer KV-cache pages"));

  void *fallback = mgpuMemAlloc(2 * mb, nullptr, true);
  ASSERT_NE(fallback, nullptr);
  static_cast<char *>(fallback)[2 * mb - 1] = 1; // host memory
  Status error = CudaDevice::takeError();
  ASSERT_FALSE(error);
  EXPECT_TRUE(contains(error.error(), "cuMemAllocManaged failed: "
                                      "CUDA_ERROR_OUT_OF_MEMORY"))
      << error.error();
  mgpuMemFree(fallback, nullptr);

  // An idle buffer of 512 KB makes way for one of 768 KB.
  void *first = mgpuMemAlloc(mb / 2, nullptr, true);
  mgpuMemFree(first, nullptr);
  EXPECT_GE((*device)->reusableBytes(), mb / 2);
  void *second = mgpuMemAlloc(3 * mb / 4, nullptr, true);
  EXPECT_TRUE(CudaDevice::takeError());
  EXPECT_EQ((*device)->reusableBytes(), 0u);
  mgpuMemFree(second, nullptr);
  log->setMemoryLimit(0);
}

// Out of memory while a step is recorded: idle buffers are given back
// without a wait on the capturing stream, which would end the capture.
TEST(CudaAbi, OutOfMemoryWhileRecording) {
  auto device = CudaDevice::get();
  const StandInLog *log = StandInLog::find();
  if (!device || !log)
    GTEST_SKIP() << "needs the stand-in driver (DGC_LIBCUDA)";
  (void)CudaDevice::takeError();
  constexpr size_t kb = 1 << 10;
  (*device)->synchronize();
  void *idle = mgpuMemAlloc(4 * kb, nullptr, true);
  mgpuMemFree(idle, nullptr);
  // Room for 8 KB only once the idle buffer is given back.
  log->setMemoryLimit(log->bytesAllocated() + 4 * kb);
  ASSERT_TRUE((*device)->beginRecording());
  void *buffer = mgpuMemAlloc(8 * kb, nullptr, true);
  EXPECT_TRUE(CudaDevice::ownsAllocation(buffer));
  auto recording = (*device)->endRecording();
  EXPECT_TRUE(recording) << recording.error();
  Status status = CudaDevice::takeError();
  EXPECT_TRUE(status) << status.error();
  mgpuMemFree(buffer, nullptr);
  if (recording)
    recording->reset(); // gives its buffers back
  log->setMemoryLimit(0);
}

// A recording runs nothing while it records; each replay reruns its kernels
// on the buffers they were recorded with.
TEST(CudaAbi, RecordsAndReplaysALaunch) {
  auto device = CudaDevice::get();
  if (!device)
    GTEST_SKIP() << "no GPU: " << device.error();
  if (!(*device)->canRecord())
    GTEST_SKIP() << "the driver cannot record graphs";
  (void)CudaDevice::takeError();
  const StandInLog *log = StandInLog::find();
  std::string ptx = kAddOnePtx;
  void *module = mgpuModuleLoadJIT(ptx.data(), 2);
  void *function = mgpuModuleGetFunction(module, "add_one");
  ASSERT_TRUE(module && function) << CudaDevice::takeError().error();
  constexpr uint32_t n = 64;
  auto *data = static_cast<float *>(mgpuMemAlloc(n * 4, nullptr, true));
  ASSERT_NE(data, nullptr);
  std::fill(data, data + n, 0.0f);
  uint32_t count = n;
  void *params[] = {&data, &count};
  size_t first = log ? log->launchCount() : 0;
  ASSERT_TRUE((*device)->beginRecording());
  void *stream = mgpuStreamCreate();
  mgpuLaunchKernel(function, 1, 1, 1, n, 1, 1, 0, stream, params, nullptr, 2);
  mgpuStreamSynchronize(stream); // a recording's waits are its replays'
  auto recording = (*device)->endRecording();
  ASSERT_TRUE(recording) << recording.error();
  EXPECT_EQ(data[0], 0.0f) << "recorded, not run";
  if (log) {
    EXPECT_EQ(log->launchCount(), first);
  }
  ASSERT_TRUE((*recording)->replay());
  ASSERT_TRUE((*recording)->replay());
  if (log) {
    ASSERT_EQ(log->launchCount(), first + 2);
    EXPECT_TRUE(log->launchWasReplayed(first + 1));
    runLoggedAddOnes(log, first, data, n);
  }
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(data[i], 2.0f) << "at " << i;
  recording->reset();
  mgpuMemFree(data, nullptr);
  (*device)->unloadModulesIn(ptx.data(), ptx.data() + ptx.size());
  Status status = CudaDevice::takeError();
  EXPECT_TRUE(status) << status.error();
}

} // namespace
