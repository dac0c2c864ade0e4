//===- BadInputTest.cpp - Modules and checkpoints that do not fit ---------===//
//
// Each bad input is a clear error that names what is wrong, and nothing
// already loaded or admitted is lost.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/HostModule.h"

#include <gtest/gtest.h>

#include "ModulesUnderTest.h"
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace dgc::runtime;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kModule = testPath(DGC_TINY_MODULE);
const std::string kFixtures = testPath(DGC_TINY_FIXTURES);

/// A copy of the tiny module whose manifest `edit` changes.
std::string editedModule(const std::string &name,
                         const std::function<void(json &)> &edit) {
  fs::path dir = fs::path(testing::TempDir()) / ("dgc-" + name + ".dgm");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fs::path(kModule) / "host.so", dir / "host.so");
  std::ifstream in(fs::path(kModule) / "manifest.json");
  json manifest = json::parse(in);
  edit(manifest);
  std::ofstream(dir / "manifest.json") << manifest.dump(2);
  return dir.string();
}

void expectLoadError(const std::string &dir, const std::string &message,
                     const std::string &file = "manifest.json") {
  auto module = HostModule::load(dir);
  ASSERT_FALSE(module);
  EXPECT_NE(module.error().find(message), std::string::npos) << module.error();
  EXPECT_NE(module.error().find(file), std::string::npos) << module.error();
}

TEST(BadModule, OtherFormatVersion) {
  expectLoadError(editedModule("version", [](json &m) { m["version"] = 2; }),
                  "module format version 2; this runtime reads version 3");
}

TEST(BadModule, NotAManifest) {
  expectLoadError(editedModule("format", [](json &m) { m.erase("format"); }),
                  "not a dgc module manifest");
}

TEST(BadModule, WeightPastTheArena) {
  expectLoadError(
      editedModule("arena", [](json &m) { m["weights"]["bytes"] = 1024; }),
      "ends past the weight arena of 1024 bytes");
}

TEST(BadModule, LibraryOutsideTheModule) {
  expectLoadError(editedModule("library",
                               [](json &m) {
                                 m["targets"]["host"]["library"] = "../host.so";
                               }),
                  "expected a file name inside the module");
}

TEST(BadModule, MissingEntryPoint) {
  expectLoadError(editedModule("symbol",
                               [](json &m) {
                                 m["graphs"]["decoder"]["symbol"] = "nowhere";
                               }),
                  "graph 'decoder' has no entry point 'nowhere'", "host.so");
}

TEST(BadModule, MissingDirectory) {
  auto module = HostModule::load("/nonexistent/model.dgm");
  ASSERT_FALSE(module);
  EXPECT_NE(module.error().find("cannot open the module manifest"),
            std::string::npos);
}

/// A checkpoint directory holding one safetensors file with `tensors`.
std::string
writeCheckpoint(const std::string &name,
                const std::map<std::string, std::vector<int64_t>> &tensors) {
  fs::path dir = fs::path(testing::TempDir()) / ("dgc-ckpt-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  json header = json::object();
  uint64_t offset = 0;
  for (const auto &[tensor, shape] : tensors) {
    uint64_t bytes = 4;
    for (int64_t d : shape)
      bytes *= d;
    header[tensor] = {{"dtype", "F32"},
                      {"shape", shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  uint64_t length = text.size();
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char *>(&length), 8);
  out << text << std::string(offset, '\0');
  return dir.string();
}

TEST(BadCheckpoint, MissingTensorIsNamed) {
  auto module = HostModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  auto checkpoint = Checkpoint::open(
      writeCheckpoint("missing", {{"model.decoder.norm.weight", {64}}}));
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  Status s = module->bindWeights(*checkpoint);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("does not match the module"), std::string::npos);
  EXPECT_NE(s.error().find(module->manifest().weights[0].name),
            std::string::npos)
      << s.error();
}

TEST(BadCheckpoint, WrongShapeIsNamed) {
  auto module = HostModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  std::map<std::string, std::vector<int64_t>> tensors;
  for (const WeightSpec &w : module->manifest().weights)
    tensors[w.name] = w.shape;
  tensors["model.decoder.norm.weight"] = {32};
  auto checkpoint = Checkpoint::open(writeCheckpoint("shape", tensors));
  ASSERT_TRUE(checkpoint) << checkpoint.error();
  Status s = module->bindWeights(*checkpoint);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), "tensor 'model.decoder.norm.weight' has shape [32] in "
                       "the checkpoint; the module was compiled for [64]");
}

TEST(BadCheckpoint, CallBeforeWeightsIsAnError) {
  auto module = HostModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  auto out = module->call("decoder", {});
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("before bindWeights"), std::string::npos);
}

TEST(FullCache, AdmissionFailsAndKeepsTheAdmitted) {
  auto module = HostModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  auto checkpoint = Checkpoint::open(kFixtures + "/checkpoint");
  ASSERT_TRUE(checkpoint);
  ASSERT_TRUE(module->bindWeights(*checkpoint));
  auto cache = module->createCache(/*pageSize=*/16, /*pagesPerPool=*/4);
  ASSERT_TRUE(cache) << cache.error();
  auto first = cache->admit(56);
  ASSERT_TRUE(first) << first.error();
  Executor run(*module, *cache);
  std::vector<int32_t> prompt(40, 7), positions(40);
  for (int i = 0; i < 40; ++i)
    positions[i] = i;
  auto before = run.encode({*first}, prompt, positions);
  ASSERT_TRUE(before) << before.error();

  auto second = cache->admit(56);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("kv_cache"), std::string::npos)
      << second.error();

  // The admitted request still decodes, from its intact cache.
  std::vector<int32_t> canvas(16, 9);
  std::vector<float> sc(16 * 64, 0.0f);
  auto step = run.decode({*first}, canvas, sc, {0}, {0.8f});
  ASSERT_TRUE(step) << step.error();
  EXPECT_EQ(*cache->committedLength(*first), 40);
}

TEST(BadRequest, WritesOutsideTheReservationAreReported) {
  auto module = HostModule::load(kModule);
  ASSERT_TRUE(module);
  auto checkpoint = Checkpoint::open(kFixtures + "/checkpoint");
  ASSERT_TRUE(checkpoint && module->bindWeights(*checkpoint));
  auto cache = module->createCache(16, 8);
  ASSERT_TRUE(cache);
  auto id = cache->admit(16);
  ASSERT_TRUE(id);
  Executor run(*module, *cache);
  std::vector<int32_t> prompt(40, 7), positions(40);
  for (int i = 0; i < 40; ++i)
    positions[i] = i;
  auto out = run.encode({*id}, prompt, positions);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("graph 'encoder': KV cache: kv cache: request " +
                             std::to_string(*id) + ", pool 'kv_cache_"),
            std::string::npos)
      << out.error();
  EXPECT_NE(out.error().find("outside the reservation [0, 16)"),
            std::string::npos)
      << out.error();
  // A failed pass commits nothing.
  EXPECT_EQ(*cache->committedLength(*id), 0);
}

} // namespace
