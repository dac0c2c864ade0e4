//===- StandInLaunchTest.cpp - Launches on the stand-in CUDA driver -------===//
//
// Launch shapes, kernel directives, shared memory, arguments, unloaded
// modules, the launch log and graphs, against the stand-in library called
// as the runtime calls it.
//
//===----------------------------------------------------------------------===//

#include "StandInFixture.h"

#include <vector>

using namespace dgc::standin::test;

namespace {

TEST_F(StandIn, LaunchShapesAgainstTheLimits) {
  CUfunction f = scale(kernelPtx());
  size_t before = log->launchCount();
  EXPECT_EQ(launch(f, 4, 1, 1, 256, 1, 1), 0);
  EXPECT_EQ(launch(f, 2147483647u, 65535, 65535, 32, 32, 1), 0);
  EXPECT_EQ(launch(f, 1, 1, 1, 4, 4, 64), 0);
  EXPECT_EQ(log->launchCount(), before + 3);
  EXPECT_STREQ(log->lastLaunchKernel(), "scale");
  EXPECT_EQ(launch(f, 1, 1, 1, 1025, 1, 1), kInvalidValue);
  EXPECT_EQ(launch(f, 1, 1, 1, 64, 32, 1), kInvalidValue);
  EXPECT_TRUE(contains(log->lastFailure(), "more than 1024"));
  EXPECT_EQ(launch(f, 1, 1, 1, 1, 1, 65), kInvalidValue);
  EXPECT_EQ(launch(f, 1, 65536, 1, 32, 1, 1), kInvalidValue);
  EXPECT_EQ(launch(f, 0, 1, 1, 32, 1, 1), kInvalidValue);
  EXPECT_EQ(log->launchCount(), before + 3);
  // The reason travels in the error's text.
  const char *text = nullptr;
  ASSERT_EQ(d->cuGetErrorString(kInvalidValue, &text), 0);
  EXPECT_TRUE(contains(text, "stand-in: cuLaunchKernel: kernel 'scale'"))
      << text;
}

TEST_F(StandIn, KernelDirectivesBoundTheBlock) {
  CUfunction most = scale(kernelPtx(".maxntid 128, 1, 1"));
  EXPECT_EQ(launch(most, 1, 1, 1, 128, 1, 1), 0);
  EXPECT_EQ(launch(most, 1, 1, 1, 64, 2, 1), 0);
  EXPECT_EQ(launch(most, 1, 1, 1, 256, 1, 1), kOutOfResources);
  CUfunction exact = scale(kernelPtx(".reqntid 64, 2"));
  EXPECT_EQ(launch(exact, 1, 1, 1, 64, 2, 1), 0);
  EXPECT_EQ(launch(exact, 1, 1, 1, 128, 1, 1), kInvalidValue);
  CUmodule module = nullptr;
  EXPECT_EQ(load(kernelPtx(".maxntid 2048"), module), kInvalidPtx);
}

TEST_F(StandIn, SharedMemoryNeedsTheOptIn) {
  // 16 KB of the kernel's own and 8 KB + 4 bytes it names at module scope;
  // a variable it does not name counts nothing.
  CUfunction f = scale(kernelPtx(
      "",
      ".shared .align 16 .b8 tile[16384];\n"
      "\tmov.u64 %rd1, staged;\n\tld.shared.u32 %r1, [flag];",
      ".shared .align 16 .b8 staged[8192];\n.shared .align 4 .u32 flag;\n"
      ".shared .align 16 .b8 unused[30000];"));
  unsigned fixed = 16384 + 8192 + 4;
  unsigned room = 48 * 1024 - fixed;
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1, room), 0) << log->lastFailure();
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1, room + 1), kInvalidValue);
  EXPECT_TRUE(contains(log->lastFailure(), "MAX_DYNAMIC_SHARED_SIZE_BYTES"));
  ASSERT_EQ(d->cuFuncSetAttribute(f, 8, 100000), 0);
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1, 100000), 0);
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1, 100001), kInvalidValue);
  EXPECT_EQ(d->cuFuncSetAttribute(f, 8, 227 * 1024 - fixed), 0);
  EXPECT_EQ(d->cuFuncSetAttribute(f, 8, 227 * 1024 - fixed + 1), kInvalidValue);
  EXPECT_EQ(d->cuFuncSetAttribute(f, 42, 1), kInvalidValue);
}

TEST_F(StandIn, ArgumentsMustBeGpuMemory) {
  CUfunction f = scale(kernelPtx());
  uint32_t n = 16;
  std::vector<float> host(16);
  CUdeviceptr inside = buffer + 64, end = buffer + 4096, null = 0;
  CUdeviceptr hostAddress = reinterpret_cast<CUdeviceptr>(host.data());
  for (CUdeviceptr *p : {&inside, &end, &null}) {
    void *params[] = {p, &n};
    EXPECT_EQ(
        d->cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr), 0);
  }
  void *params[] = {&hostAddress, &n};
  EXPECT_EQ(d->cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr),
            kIllegalAddress);
  EXPECT_TRUE(contains(log->lastFailure(), "parameter 0 (scale_param_0)"));
  EXPECT_EQ(
      d->cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr),
      kInvalidValue);
  void *missing[] = {&inside, nullptr};
  EXPECT_EQ(
      d->cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, missing, nullptr),
      kInvalidValue);
}

// A wrong-module bug shows here: a kernel of an unloaded module is refused,
// never quietly run from other code.
TEST_F(StandIn, UnloadedModulesAreRefused) {
  CUmodule module = nullptr;
  CUfunction f = nullptr;
  ASSERT_EQ(load(kernelPtx(), module), 0);
  ASSERT_EQ(d->cuModuleGetFunction(&f, module, "scale"), 0);
  size_t live = log->liveModules();
  ASSERT_EQ(d->cuModuleUnload(module), 0);
  EXPECT_EQ(log->liveModules(), live - 1);
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1), kInvalidHandle);
  EXPECT_TRUE(contains(log->lastFailure(), "which was unloaded"))
      << log->lastFailure();
  EXPECT_EQ(d->cuModuleGetFunction(&f, module, "scale"), kInvalidHandle);
  EXPECT_EQ(d->cuModuleUnload(module), kInvalidHandle);
  EXPECT_EQ(d->cuFuncSetAttribute(f, 8, 1024), kInvalidHandle);
}

TEST_F(StandIn, LogNamesTheLaunchedModule) {
  std::string one = kernelPtx("", "\t// adds 0f3F800000");
  std::string two = kernelPtx("", "\t// adds 0f40000000");
  CUfunction first = scale(one), second = scale(two);
  size_t at = log->launchCount();
  EXPECT_EQ(launch(second, 1, 1, 1, 32, 1, 1), 0);
  EXPECT_EQ(launch(first, 1, 1, 1, 32, 1, 1), 0);
  ASSERT_EQ(log->launchCount(), at + 2);
  EXPECT_EQ(log->launchModulePtx(at), two);
  EXPECT_EQ(log->launchModulePtx(at + 1), one);
  EXPECT_EQ(log->lastLaunchModulePtx(), one);
  EXPECT_STREQ(log->launchKernel(at), "scale");
}

TEST_F(StandIn, GraphsRecordAndReplay) {
  CUmodule module = nullptr;
  CUfunction f = nullptr;
  ASSERT_EQ(load(kernelPtx(), module), 0);
  ASSERT_EQ(d->cuModuleGetFunction(&f, module, "scale"), 0);
  size_t launched = log->launchCount(), captured = log->capturedLaunchCount(),
         replayed = log->replayedLaunchCount();
  auto *bytes = reinterpret_cast<unsigned char *>(buffer);
  ASSERT_EQ(d->cuStreamBeginCapture_v2(stream, 2), 0);
  EXPECT_EQ(d->cuStreamBeginCapture_v2(stream, 2), 401);
  EXPECT_EQ(launch(f, 1, 1, 1, 32, 1, 1), 0);
  EXPECT_EQ(launch(f, 2, 1, 1, 32, 1, 1), 0);
  EXPECT_EQ(d->cuMemsetD8Async(buffer, 9, 4, stream), 0);
  EXPECT_EQ(bytes[0], 0) << "a captured memset runs at the replay";
  CUgraph graph = nullptr;
  ASSERT_EQ(d->cuStreamEndCapture(stream, &graph), 0);
  EXPECT_EQ(log->launchCount(), launched);
  EXPECT_EQ(log->capturedLaunchCount(), captured + 2);
  CUgraphExec exec = nullptr;
  ASSERT_EQ(d->cuGraphInstantiateWithFlags(&exec, graph, 0), 0);
  ASSERT_EQ(d->cuGraphLaunch(exec, stream), 0);
  ASSERT_EQ(d->cuGraphLaunch(exec, stream), 0);
  EXPECT_EQ(bytes[0], 9);
  EXPECT_EQ(log->launchCount(), launched + 4);
  EXPECT_EQ(log->replayedLaunchCount(), replayed + 4);
  EXPECT_TRUE(log->launchWasReplayed(launched));

  // Waiting on a capturing stream breaks the capture.
  ASSERT_EQ(d->cuStreamBeginCapture_v2(stream, 2), 0);
  EXPECT_EQ(d->cuStreamSynchronize(stream), kCaptureUnsupported);
  CUgraph broken = nullptr;
  EXPECT_EQ(d->cuStreamEndCapture(stream, &broken), kCaptureInvalidated);
  EXPECT_EQ(d->cuStreamBeginCapture_v2(nullptr, 2), kCaptureUnsupported);

  // A replay whose kernel reads freed memory, or whose module is gone.
  CUdeviceptr scratch = 0;
  ASSERT_EQ(d->cuMemAllocManaged(&scratch, 256, 1), 0);
  uint32_t n = 1;
  void *params[] = {&scratch, &n};
  ASSERT_EQ(d->cuStreamBeginCapture_v2(stream, 2), 0);
  ASSERT_EQ(d->cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr),
            0);
  CUgraph reads = nullptr;
  CUgraphExec readsExec = nullptr;
  ASSERT_EQ(d->cuStreamEndCapture(stream, &reads), 0);
  ASSERT_EQ(d->cuGraphInstantiateWithFlags(&readsExec, reads, 0), 0);
  EXPECT_EQ(d->cuGraphLaunch(readsExec, stream), 0);
  ASSERT_EQ(d->cuMemFree_v2(scratch), 0);
  EXPECT_EQ(d->cuGraphLaunch(readsExec, stream), kIllegalAddress);
  ASSERT_EQ(d->cuModuleUnload(module), 0);
  EXPECT_EQ(d->cuGraphLaunch(exec, stream), kInvalidHandle);
  EXPECT_TRUE(contains(log->lastFailure(), "which was unloaded"));
  EXPECT_EQ(d->cuGraphExecDestroy(exec), 0);
  EXPECT_EQ(d->cuGraphExecDestroy(exec), kInvalidHandle);
  EXPECT_EQ(d->cuGraphDestroy(graph), 0);
  EXPECT_EQ(d->cuGraphExecDestroy(readsExec), 0);
  EXPECT_EQ(d->cuGraphDestroy(reads), 0);
}

#ifdef DGC_PTXAS
/// A kernel that keeps `n` loaded values live at once, then sums them.
std::string registerHungryPtx(int n) {
  std::string body = "\t.reg .f32 %f<" + std::to_string(n + 2) +
                     ">;\n\t.reg .b64 %rd<2>;\n"
                     "\tld.param.u64 %rd1, [scale_param_0];\n";
  for (int i = 0; i < n; ++i)
    body += "\tld.volatile.global.f32 %f" + std::to_string(i) + ", [%rd1+" +
            std::to_string(4 * i) + "];\n";
  body += "\tmov.f32 %f" + std::to_string(n) + ", 0f00000000;\n";
  for (int i = n - 1; i >= 0; --i)
    body += "\tfma.rn.f32 %f" + std::to_string(n) + ", %f" + std::to_string(i) +
            ", %f" + std::to_string(i) + ", %f" + std::to_string(n) + ";\n";
  body += "\tst.volatile.global.f32 [%rd1], %f" + std::to_string(n) + ";";
  return kernelPtx("", body);
}

// With ptxas, a block is checked against its registers: 64K a block.
TEST_F(StandIn, RegistersFromPtxas) {
  setenv("DGC_STANDIN_PTXAS", DGC_PTXAS, 1);
  CUfunction f = scale(registerHungryPtx(160));
  unsetenv("DGC_STANDIN_PTXAS");
  EXPECT_EQ(launch(f, 1, 1, 1, 256, 1, 1), 0) << log->lastFailure();
  EXPECT_EQ(launch(f, 1, 1, 1, 1024, 1, 1), kOutOfResources);
  EXPECT_TRUE(contains(log->lastFailure(), "registers a thread"))
      << log->lastFailure();
}
#endif

} // namespace
