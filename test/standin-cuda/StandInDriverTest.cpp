//===- StandInDriverTest.cpp - What the stand-in CUDA driver refuses ------===//
//
// The stand-in is worth what it catches: each limit and misuse it claims to
// check (docs/cuda-target.md) is tried here and in StandInLaunchTest.cpp,
// calling the library as the runtime does. Here: the device, memory,
// contexts and modules.
//
//===----------------------------------------------------------------------===//

#include "StandInFixture.h"

#include <thread>

using namespace dgc::standin::test;

namespace {

TEST_F(StandIn, DeviceHasTheH200sLimits) {
  int count = 0, value = 0;
  char name[64] = {};
  ASSERT_EQ(d->cuDeviceGetCount(&count), 0);
  EXPECT_EQ(count, 1);
  ASSERT_EQ(d->cuDeviceGetName(name, sizeof name, 0), 0);
  EXPECT_STREQ(name, "dgc stand-in (H200 limits)");
  auto attribute = [&](int a) {
    EXPECT_EQ(d->cuDeviceGetAttribute(&value, a, 0), 0) << a;
    return value;
  };
  EXPECT_EQ(attribute(75), 9); // compute capability 9.0
  EXPECT_EQ(attribute(76), 0);
  EXPECT_EQ(attribute(1), 1024);
  EXPECT_EQ(attribute(8), 48 * 1024);
  EXPECT_EQ(attribute(97), 227 * 1024);
  EXPECT_EQ(d->cuDeviceGetAttribute(&value, 9999, 0), kInvalidValue);
}

// Device memory is out of the host's reach, as on a GPU: host code that
// touches it faults; copies and memsets reach it.
TEST_F(StandIn, DeviceMemoryOnlyCopiesReach) {
  CUdeviceptr p = 0;
  ASSERT_EQ(d->cuMemAlloc_v2(&p, 100), 0);
  const char in[] = "device";
  char out[sizeof in] = {};
  ASSERT_EQ(d->cuMemcpyHtoD_v2(p + 10, in, sizeof in), 0);
  ASSERT_EQ(d->cuMemcpyDtoH_v2(out, p + 10, sizeof in), 0);
  EXPECT_STREQ(out, "device");
  ASSERT_EQ(d->cuMemsetD8Async(p, 'x', 3, stream), 0);
  ASSERT_EQ(d->cuMemcpyDtoH_v2(out, p, 3), 0);
  EXPECT_EQ(std::string(out, 3), "xxx");
  EXPECT_EQ(d->cuMemcpyHtoD_v2(p + 4000, in, sizeof in), kInvalidValue)
      << "past the allocation";
  EXPECT_DEATH({ (void)*reinterpret_cast<volatile char *>(p); }, "")
      << "a host read of device memory";
  size_t free = 0, total = 0;
  ASSERT_EQ(d->cuMemGetInfo_v2(&free, &total), 0);
  EXPECT_EQ(total - free, log->bytesAllocated());
  EXPECT_EQ(d->cuMemFree_v2(p), 0);
}

TEST_F(StandIn, MemoryIsHostMemoryWithABudget) {
  size_t before = log->bytesAllocated();
  CUdeviceptr p = 0, q = 0;
  ASSERT_EQ(d->cuMemAllocManaged(&p, 1000, 1), 0);
  EXPECT_EQ(p % 256, 0u);
  EXPECT_EQ(log->bytesAllocated(), before + 1024);
  auto *bytes = reinterpret_cast<unsigned char *>(p);
  EXPECT_EQ(bytes[999], 0); // zeroed
  bytes[999] = 7;           // host code may touch it
  ASSERT_EQ(d->cuMemsetD8Async(p, 0xab, 1000, stream), 0);
  EXPECT_EQ(bytes[999], 0xab);
  EXPECT_EQ(d->cuMemsetD8Async(p, 0, 1025, stream), kInvalidValue);
  EXPECT_EQ(d->cuMemPrefetchAsync_v2(p, 1000, {1, 0}, 0, stream), 0);
  ASSERT_EQ(d->cuMemAlloc_v2(&q, 64), 0);
  EXPECT_EQ(d->cuMemPrefetchAsync_v2(q, 64, {1, 0}, 0, stream), kInvalidValue)
      << "device memory is not managed";
  EXPECT_EQ(d->cuMemFree_v2(q), 0);
  EXPECT_EQ(d->cuMemFree_v2(p + 256), kInvalidValue);
  EXPECT_EQ(d->cuMemFree_v2(p), 0);
  EXPECT_EQ(d->cuMemFree_v2(p), kInvalidValue) << "freed twice";
  EXPECT_EQ(log->bytesAllocated(), before);
  EXPECT_EQ(d->cuMemAlloc_v2(&q, 0), kInvalidValue);
  // More than the H200's 141 GB.
  EXPECT_EQ(d->cuMemAllocManaged(&q, size_t(200) << 30, 1), kOutOfMemory);
  EXPECT_TRUE(contains(log->lastFailure(), "DGC_STANDIN_MEMORY"));
}

TEST_F(StandIn, CallsNeedACurrentContext) {
  CUresult r = 0;
  std::thread other([&] {
    CUdeviceptr p = 0;
    r = d->cuMemAlloc_v2(&p, 256);
  });
  other.join();
  EXPECT_EQ(r, kInvalidContext);
}

TEST_F(StandIn, ModulesAreReadAsPtx) {
  CUmodule module = nullptr, other = nullptr;
  std::string jit;
  ASSERT_EQ(load(kernelPtx(), module, &jit), 0) << log->lastFailure();
  EXPECT_EQ(jit, "");
  CUfunction f = nullptr, g = nullptr;
  ASSERT_EQ(d->cuModuleGetFunction(&f, module, "scale"), 0);
  ASSERT_EQ(d->cuModuleGetFunction(&g, module, "scale"), 0);
  EXPECT_EQ(f, g);
  EXPECT_EQ(d->cuModuleGetFunction(&g, module, "nothing"), kNotFound);

  EXPECT_EQ(load(kernelPtx() + "garbage", other, &jit), kInvalidPtx);
  EXPECT_TRUE(contains(jit, "syntax error at 'garbage'")) << jit;
  EXPECT_TRUE(contains(jit, "line 17")) << jit;
  EXPECT_EQ(load(kernelPtx().substr(13), other, &jit), kInvalidPtx);
  EXPECT_TRUE(contains(jit, "must start with .version")) << jit;
  EXPECT_EQ(load(".version 8.0\n.target sm_90a\n", other, &jit), kInvalidPtx);
  EXPECT_TRUE(contains(jit, "no .entry")) << jit;
  std::string open = kernelPtx();
  open.pop_back(), open.pop_back(); // the closing brace
  EXPECT_EQ(load(open, other, &jit), kInvalidPtx);
  EXPECT_TRUE(contains(jit, "is not closed")) << jit;
  EXPECT_EQ(load(kernelPtx("", "", "", "9.9"), other, &jit),
            kUnsupportedPtxVersion);
  EXPECT_TRUE(contains(jit, "Unsupported .version 9.9")) << jit;
  EXPECT_EQ(load(kernelPtx("", "", "", "8.0", "sm_100a"), other, &jit),
            kInvalidPtx);
  EXPECT_TRUE(contains(jit, "sm_100a does not run on sm_90")) << jit;
  EXPECT_EQ(load(kernelPtx("", "", "", "7.0", "sm_50"), other), 0);
  // Static shared memory beyond 48 KB does not assemble.
  EXPECT_EQ(
      load(kernelPtx("", ".shared .align 16 .b8 tile[49153];"), other, &jit),
      kInvalidPtx);
  EXPECT_TRUE(contains(jit, "uses too much shared data (0xc001 bytes")) << jit;
  EXPECT_EQ(d->cuModuleLoadDataEx(&other,
                                  "\x7f"
                                  "ELF....",
                                  0, nullptr, nullptr),
            kInvalidImage);
}

} // namespace
