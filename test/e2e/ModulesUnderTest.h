//===- ModulesUnderTest.h - Which compiled forms the e2e tests run --------===//
//
// Every end-to-end test runs on the tiny model compiled for host, unfused,
// fused, and fused with the experts in 16-row tiles as on cuda; with DGC_TEST_CUDA_MODULE=DIR (a module compiled with --target cuda
// or all) also on the cuda device, which needs a GPU and its driver
// (scripts/gpu-check.sh sets it).
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_E2E_MODULESUNDERTEST_H
#define DGC_TEST_E2E_MODULESUNDERTEST_H

#include "dgc/runtime/CompiledModule.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

/// A path compiled into the tests, moved when the tree was: with
/// DGC_RELOCATE_FROM=OLD and DGC_RELOCATE_TO=NEW, OLD/x becomes NEW/x (a
/// GPU machine runs binaries built elsewhere; scripts/gpu-check.sh sets them).
inline std::string testPath(const std::string &compiled) {
  const char *from = std::getenv("DGC_RELOCATE_FROM");
  const char *to = std::getenv("DGC_RELOCATE_TO");
  if (!from || !to || !*from || compiled.rfind(from, 0) != 0)
    return compiled;
  return to + compiled.substr(std::string(from).size());
}

struct ModuleUnderTest {
  std::string path;
  dgc::runtime::Device device;
  std::string name; // a test-name suffix
};

inline void PrintTo(const ModuleUnderTest &m, std::ostream *os) {
  *os << m.name << " (" << m.path << ")";
}

inline std::vector<ModuleUnderTest> modulesUnderTest() {
  std::vector<ModuleUnderTest> modules = {
      {testPath(DGC_TINY_MODULE), dgc::runtime::Device::Host, "unfused"},
      {testPath(DGC_TINY_FUSED_MODULE), dgc::runtime::Device::Host, "fused"},
      {testPath(DGC_TINY_GROUPED_MODULE), dgc::runtime::Device::Host,
       "fused_g16"}};
  if (const char *cuda = std::getenv("DGC_TEST_CUDA_MODULE"); cuda && *cuda)
    modules.push_back({cuda, dgc::runtime::Device::Cuda, "cuda"});
  return modules;
}

/// `m` loaded with the tiny fixture checkpoint's weights bound; null after a
/// test failure naming the problem.
inline std::unique_ptr<dgc::runtime::CompiledModule>
loadWithWeights(const ModuleUnderTest &m) {
  using namespace dgc::runtime;
  auto module = CompiledModule::load(m.path, m.device);
  EXPECT_TRUE(module) << module.error();
  auto checkpoint =
      Checkpoint::open(testPath(DGC_TINY_FIXTURES) + "/checkpoint");
  EXPECT_TRUE(checkpoint) << checkpoint.error();
  if (!module || !checkpoint)
    return nullptr;
  Status bound = module->bindWeights(*checkpoint);
  EXPECT_TRUE(bound) << bound.error();
  if (!bound)
    return nullptr;
  return std::make_unique<CompiledModule>(std::move(*module));
}

/// A module with weights, a cache (16 pages of 16 positions a pool) and one
/// request admitted for 96 tokens; null members after a test failure.
struct LoadedWithCache {
  std::unique_ptr<dgc::runtime::CompiledModule> module;
  std::unique_ptr<dgc::runtime::KVCache> cache;
  dgc::runtime::RequestId request = 0;
};

inline LoadedWithCache loadWithCache(const std::string &dir,
                                     dgc::runtime::Device device) {
  LoadedWithCache l;
  l.module = loadWithWeights({dir, device, ""});
  if (!l.module)
    return l;
  auto cache = l.module->createCache(16, 16);
  EXPECT_TRUE(cache) << cache.error();
  if (!cache)
    return l;
  l.cache = std::make_unique<dgc::runtime::KVCache>(std::move(*cache));
  auto request = l.cache->admit(96);
  EXPECT_TRUE(request) << request.error();
  if (request)
    l.request = *request;
  return l;
}

inline std::string moduleName(
    const testing::TestParamInfo<ModuleUnderTest> &info) {
  return info.param.name;
}

#endif // DGC_TEST_E2E_MODULESUNDERTEST_H
