//===- BadInputTest.cpp - Modules and checkpoints that do not fit ---------===//
//
// Each bad input is a clear error that names what is wrong, and nothing
// already loaded or admitted is lost.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/Sha256.h"

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
  std::string text = manifest.dump(2);
  std::ofstream(dir / "manifest.json") << text;
  // Sealed again, as a careless or hostile editor could: what is tested is
  // the runtime's check of the fields themselves.
  std::ifstream library(dir / "host.so", std::ios::binary);
  std::string code((std::istreambuf_iterator<char>(library)), {});
  std::ofstream(dir / "SHA256SUMS") << sha256Hex(text) << "  manifest.json\n"
                                    << sha256Hex(code) << "  host.so\n";
  return dir.string();
}

/// A plain copy of the tiny module, SHA256SUMS included.
fs::path copiedModule(const std::string &name) {
  fs::path dir = fs::path(testing::TempDir()) / ("dgc-" + name + ".dgm");
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char *file : {"manifest.json", "host.so", "SHA256SUMS"})
    fs::copy_file(fs::path(kModule) / file, dir / file);
  return dir;
}

void expectLoadError(const std::string &dir, const std::string &message,
                     const std::string &file = "manifest.json") {
  auto module = CompiledModule::load(dir);
  ASSERT_FALSE(module);
  EXPECT_NE(module.error().find(message), std::string::npos) << module.error();
  EXPECT_NE(module.error().find(file), std::string::npos) << module.error();
}

TEST(BadModule, OtherFormatVersion) {
  expectLoadError(editedModule("version", [](json &m) { m["version"] = 2; }),
                  "module format version 2; this runtime reads version 4");
}

TEST(ModuleIntegrity, EditedManifestIsRefused) {
  fs::path dir = copiedModule("edited");
  std::ofstream(dir / "manifest.json", std::ios::app) << " ";
  expectLoadError(dir.string(), "not the", "manifest.json");
  expectLoadError(dir.string(), "was changed after dgc compile wrote it");
}

TEST(ModuleIntegrity, LibraryOfAnotherCompileIsRefused) {
  fs::path dir = copiedModule("other-library");
  fs::copy_file(fs::path(testPath(DGC_TINY_FUSED_MODULE)) / "host.so",
                dir / "host.so", fs::copy_options::overwrite_existing);
  expectLoadError(dir.string(), "was changed after dgc compile wrote it",
                  "host.so");
}

TEST(ModuleIntegrity, MissingOrMalformedSums) {
  fs::path dir = copiedModule("no-sums");
  fs::remove(dir / "SHA256SUMS");
  expectLoadError(dir.string(), "SHA256SUMS: missing", "SHA256SUMS");
  std::ofstream(dir / "SHA256SUMS") << "0123  manifest.json\n";
  expectLoadError(dir.string(), "SHA256SUMS:1: expected", "SHA256SUMS");
  std::ofstream(dir / "SHA256SUMS") << std::string(64, 'a') << "  host.so\n";
  expectLoadError(dir.string(), "lists no digest for manifest.json",
                  "SHA256SUMS");
}

TEST(ModuleIntegrity, ResealedManifestIsNotTheCodes) {
  // Edited and sealed again: SHA256SUMS agrees, the code does not.
  std::string dir = editedModule("resealed", [](json &m) {
    m["kv_cache"]["pools"]["kv_cache_full"]["head_dim"] = 32;
  });
  expectLoadError(dir, "not the manifest host.so was compiled with");
  expectLoadError(dir, "the manifest was edited after dgc compile wrote it");
}

TEST(ModuleIntegrity, DigestsAreSha256) {
  // FIPS 180-4's examples.
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
                           "a495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                              "b410ff61f20015ad");
  EXPECT_EQ(
      sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i)
    million.update(chunk.data(), chunk.size());
  EXPECT_EQ(million.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a4972"
                                 "00e046d39ccc7112cd0");
}

/// The error of checking the generation graphs of `dir`'s manifest. (The
/// module would not load: its code was compiled with the unedited one.)
std::string contractError(const std::string &dir) {
  std::ifstream in(fs::path(dir) / "manifest.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto manifest = parseManifest(text, dir + "/manifest.json");
  EXPECT_TRUE(manifest) << manifest.error();
  if (!manifest)
    return "";
  Status s = checkGenerationGraphs(*manifest);
  EXPECT_FALSE(s);
  return s.error();
}

TEST(GraphContract, TheTinyModuleKeepsIt) {
  auto module = CompiledModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  EXPECT_TRUE(checkGenerationGraphs(module->manifest()));
}

TEST(GraphContract, FewerDecoderOutputs) {
  std::string error = contractError(editedModule(
      "outputs", [](json &m) { m["graphs"]["decoder"]["outputs"].erase(6); }));
  EXPECT_NE(
      error.find("graphs.decoder.outputs: 6 outputs; the runtime reads 7"),
      std::string::npos)
      << error;
}

TEST(GraphContract, SwappedInputs) {
  std::string error = contractError(editedModule("swapped", [](json &m) {
    std::swap(m["graphs"]["decoder"]["inputs"][1],
              m["graphs"]["decoder"]["inputs"][2]);
  }));
  EXPECT_NE(error.find("graphs.decoder.inputs[1]: expected the tensor "
                       "'canvas_tokens', found 'committed_lengths'"),
            std::string::npos)
      << error;
}

TEST(GraphContract, CanvasThatDisagrees) {
  std::string error = contractError(
      editedModule("canvas", [](json &m) { m["model"]["canvas_length"] = 8; }));
  EXPECT_NE(error.find("graphs.decoder.inputs[1]: 'canvas_tokens' has shape "
                       "[-1, 16]; model.* gives [-1, 8]"),
            std::string::npos)
      << error;
}

TEST(GraphContract, CacheOfNoPool) {
  std::string error = contractError(editedModule("pool", [](json &m) {
    m["graphs"]["encoder"]["inputs"][6]["name"] = "kv_cache_other";
  }));
  EXPECT_NE(error.find("the KV cache 'kv_cache_other' is not one of "
                       "kv_cache.pools"),
            std::string::npos)
      << error;
}

TEST(BadModule, OverlappingWeights) {
  expectLoadError(editedModule("overlap",
                               [](json &m) {
                                 auto &t = m["weights"]["tensors"];
                                 t[1]["offset"] = t[0]["offset"];
                               }),
                  "overlap in the weight arena");
}

TEST(BadModule, CpuFeaturesThisMachineLacks) {
  expectLoadError(
      editedModule(
          "cpu",
          [](json &m) {
            m["targets"]["host"]["cpu"] = "future9";
            m["targets"]["host"]["cpu_features"] = {"avx2", "no_such_flag"};
          }),
      "host.so was compiled for future9 and needs CPU features "
      "this machine lacks: no_such_flag",
      "host.so");
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
  auto module = CompiledModule::load("/nonexistent/model.dgm");
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
  auto module = CompiledModule::load(kModule);
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
  auto module = CompiledModule::load(kModule);
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
  auto module = CompiledModule::load(kModule);
  ASSERT_TRUE(module) << module.error();
  auto out = module->call("decoder", {});
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("before bindWeights"), std::string::npos);
}

TEST(FullCache, AdmissionFailsAndKeepsTheAdmitted) {
  auto module = CompiledModule::load(kModule);
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
  auto module = CompiledModule::load(kModule);
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
