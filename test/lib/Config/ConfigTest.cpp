//===- ConfigTest.cpp - Reading and validating DiffusionGemma configs -----===//

#include "dgc/Config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

using nlohmann::json;

namespace {

const std::string kConfigs = DGC_CONFIGS_DIR;
const std::string kBigConfig = kConfigs + "/diffusiongemma-26b-a4b/config.json";

json readJson(const std::string &path) {
  std::ifstream in(path);
  return json::parse(in);
}

dgc::ModelConfig mustParse(const json &doc) {
  dgc::ConfigError error;
  auto config = dgc::parseModelConfig(doc.dump(), "config.json", error);
  EXPECT_TRUE(config) << error.str();
  return config ? *config : dgc::ModelConfig{};
}

TEST(ModelConfig, Reads26BA4B) {
  dgc::ConfigError error;
  auto c = dgc::loadModelConfig(kBigConfig, error);
  ASSERT_TRUE(c) << error.str();
  const dgc::TextConfig &t = c->text;
  EXPECT_EQ(t.vocabSize, 262144);
  EXPECT_EQ(t.hiddenSize, 2816);
  EXPECT_EQ(t.intermediateSize, 2112);
  EXPECT_EQ(t.numLayers, 30);
  EXPECT_EQ(t.numHeads, 16);
  EXPECT_EQ(t.numExperts, 128);
  EXPECT_EQ(t.topKExperts, 8);
  EXPECT_EQ(t.moeIntermediateSize, 704);
  EXPECT_DOUBLE_EQ(t.finalLogitSoftcapping, 30.0);
  EXPECT_DOUBLE_EQ(t.rmsNormEps, 1e-6);
  EXPECT_TRUE(t.bidirectionalVision);
  for (int64_t i = 0; i < 30; ++i)
    EXPECT_EQ(t.layerTypes[i],
              (i + 1) % 6 ? dgc::LayerType::Sliding : dgc::LayerType::Full)
        << "layer " << i;
  EXPECT_EQ(t.countLayers(dgc::LayerType::Full), 5);
  EXPECT_EQ(t.indexInType(29), 4);
  EXPECT_EQ(t.indexInType(28), 24);

  EXPECT_EQ(t.sliding.numKvHeads, 8);
  EXPECT_EQ(t.sliding.headDim, 256);
  EXPECT_TRUE(t.sliding.hasValueProjection);
  EXPECT_EQ(t.sliding.window, 1024);
  EXPECT_EQ(t.sliding.rope.type, dgc::RopeType::Default);
  EXPECT_DOUBLE_EQ(t.sliding.rope.theta, 1e4);

  EXPECT_EQ(t.full.numKvHeads, 2);
  EXPECT_EQ(t.full.headDim, 512);
  EXPECT_FALSE(t.full.hasValueProjection);
  EXPECT_EQ(t.full.window, 0);
  EXPECT_EQ(t.full.rope.type, dgc::RopeType::Proportional);
  EXPECT_DOUBLE_EQ(t.full.rope.theta, 1e6);
  EXPECT_DOUBLE_EQ(t.full.rope.partialRotaryFactor, 0.25);

  EXPECT_EQ(c->canvasLength, 256);
  EXPECT_EQ(c->dtype, "bfloat16");
  EXPECT_EQ(c->eosTokenIds, (std::vector<int64_t>{1, 106}));
  ASSERT_TRUE(c->vision);
  EXPECT_EQ(c->vision->numLayers, 27);
  EXPECT_EQ(c->vision->hiddenSize, 1152);
  EXPECT_EQ(c->vision->headDim, 72);
  EXPECT_TRUE(c->vision->standardize);
  // The public figures: about 25 B parameters, about 3.8 B active.
  EXPECT_NEAR(c->parameterCount() / 1e9, 25.8, 0.1);
  EXPECT_NEAR(c->activeParameterCount() / 1e9, 3.84, 0.05);
}

TEST(ModelConfig, PerLayerConfigFormMatchesGlobalForm) {
  json doc = readJson(kBigConfig);
  json &tc = doc["text_config"];
  tc.erase("global_head_dim");
  tc.erase("num_global_key_value_heads");
  for (const char *layer : {"5", "11", "17", "23", "29"})
    tc["per_layer_config"][layer] = {{"head_dim", 512},
                                     {"num_key_value_heads", 2}};
  dgc::ModelConfig c = mustParse(doc);
  EXPECT_EQ(c.text.full.headDim, 512);
  EXPECT_EQ(c.text.full.numKvHeads, 2);
  EXPECT_EQ(c.text.sliding.headDim, 256);
  EXPECT_EQ(c.text.sliding.numKvHeads, 8);
}

TEST(ModelConfig, ReadsTinyConfig) {
  dgc::ConfigError error;
  auto c = dgc::loadModelConfig(kConfigs + "/tiny/config.json", error);
  ASSERT_TRUE(c) << error.str();
  EXPECT_EQ(c->text.full.headDim, 64);
  EXPECT_EQ(c->text.full.numKvHeads, 1);
  EXPECT_EQ(c->text.sliding.numKvHeads, 2);
  EXPECT_LT(c->text.sliding.window, 40); // smaller than the test prompts
  EXPECT_GE(c->text.countLayers(dgc::LayerType::Sliding), 2);
  EXPECT_EQ(c->dtype, "float32");
}

TEST(ModelConfig, ReadsACheckpointWrittenByTransformers) {
  // save_pretrained rewrites the vision rope type as "axial".
  dgc::ConfigError error;
  auto c = dgc::loadModelConfig(
      std::string(DGC_FIXTURES_DIR) + "/tiny/checkpoint/config.json", error);
  ASSERT_TRUE(c) << error.str();
  ASSERT_TRUE(c->vision);
  EXPECT_DOUBLE_EQ(c->vision->ropeTheta, 100.0);
  EXPECT_EQ(c->text.full.headDim, 64);
}

TEST(ModelConfig, AppliesHuggingFaceDefaults) {
  json doc = {{"text_config",
               {{"vocab_size", 128},
                {"hidden_size", 32},
                {"intermediate_size", 48},
                {"num_hidden_layers", 7},
                {"num_attention_heads", 4},
                {"num_key_value_heads", 2},
                {"head_dim", 8},
                {"global_head_dim", 16},
                {"sliding_window", 8},
                {"num_experts", 4},
                {"top_k_experts", 2},
                {"moe_intermediate_size", 16}}}};
  dgc::ModelConfig c = mustParse(doc);
  // Five sliding then one full, and the last layer forced full.
  std::vector<dgc::LayerType> expected(7, dgc::LayerType::Sliding);
  expected[5] = expected[6] = dgc::LayerType::Full;
  EXPECT_EQ(c.text.layerTypes, expected);
  EXPECT_EQ(c.text.full.rope.type, dgc::RopeType::Proportional);
  EXPECT_DOUBLE_EQ(c.text.full.rope.partialRotaryFactor, 0.25);
  EXPECT_EQ(c.text.full.numKvHeads, 2); // falls back to num_key_value_heads
  EXPECT_DOUBLE_EQ(c.text.finalLogitSoftcapping, 30.0);
  EXPECT_EQ(c.canvasLength, 256);
  EXPECT_FALSE(c.vision);
}

TEST(ModelConfig, NullSoftcapMeansNone) {
  json doc = readJson(kBigConfig);
  doc["text_config"]["final_logit_softcapping"] = nullptr;
  EXPECT_EQ(mustParse(doc).text.finalLogitSoftcapping, 0.0);
}

/// A broken variant of the 26B-A4B config and what its error must say.
struct BadCase {
  const char *name;
  std::function<void(json &)> mutate;
  const char *path;
  const char *message; // a substring of the message
};

void PrintTo(const BadCase &bad, std::ostream *os) { *os << bad.name; }

class BadConfig : public testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesPathAndExpectation) {
  const BadCase &bad = GetParam();
  json doc = readJson(kBigConfig);
  bad.mutate(doc);
  dgc::ConfigError error;
  auto config = dgc::parseModelConfig(doc.dump(), "cfg.json", error);
  ASSERT_FALSE(config) << "accepted a config with " << bad.name;
  EXPECT_EQ(error.file, "cfg.json");
  EXPECT_EQ(error.path, bad.path) << error.str();
  EXPECT_NE(error.message.find(bad.message), std::string::npos)
      << "message: " << error.message;
}

json &text(json &doc) { return doc["text_config"]; }

const BadCase kBadCases[] = {
    {"no text_config", [](json &d) { d.erase("text_config"); }, "",
     "text_config is missing"},
    {"text_config a number", [](json &d) { d["text_config"] = 3; },
     "text_config", "expected an object, got the number 3"},
    {"another model", [](json &d) { d["model_type"] = "llama"; }, "model_type",
     "expected \"diffusion_gemma\", got \"llama\""},
    {"missing hidden_size", [](json &d) { text(d).erase("hidden_size"); },
     "text_config.hidden_size", "required field is missing"},
    {"fractional size", [](json &d) { text(d)["hidden_size"] = 2816.5; },
     "text_config.hidden_size", "expected an integer"},
    {"negative size", [](json &d) { text(d)["intermediate_size"] = -1; },
     "text_config.intermediate_size", "got the number -1"},
    {"bool as integer", [](json &d) { text(d)["num_experts"] = true; },
     "text_config.num_experts", "got true"},
    {"absurd vocabulary", [](json &d) { text(d)["vocab_size"] = 1e12; },
     "text_config.vocab_size", "expected an integer in [1, 16777216]"},
    {"huge integer", [](json &d) { text(d)["num_hidden_layers"] = UINT64_MAX; },
     "text_config.num_hidden_layers", "expected an integer in [1, 1024]"},
    {"implausible total",
     [](json &d) {
       text(d)["moe_intermediate_size"] = 131072;
       text(d)["num_experts"] = 4096;
     },
     "", "implausible model"},
    {"top-k above experts", [](json &d) { text(d)["top_k_experts"] = 129; },
     "text_config.top_k_experts", "expected an integer in [1, 128]"},
    {"short layer_types", [](json &d) { text(d)["layer_types"].erase(0); },
     "text_config.layer_types",
     "expected 30 entries (num_hidden_layers), got 29"},
    {"unknown layer type",
     [](json &d) { text(d)["layer_types"][3] = "local_attention"; },
     "text_config.layer_types[3]",
     "expected \"sliding_attention\" or \"full_attention\", got "
     "\"local_attention\""},
    {"last layer sliding",
     [](json &d) { text(d)["layer_types"][29] = "sliding_attention"; },
     "text_config.layer_types[29]", "the last layer must be a full-attention"},
    {"heads not divisible by kv heads",
     [](json &d) { text(d)["num_attention_heads"] = 12; },
     "text_config.num_key_value_heads",
     "num_attention_heads (12) is not divisible by the 8 KV heads of the "
     "sliding_attention layers"},
    {"global heads not divisible",
     [](json &d) { text(d)["num_global_key_value_heads"] = 3; },
     "text_config.num_global_key_value_heads",
     "not divisible by the 3 KV heads of the full_attention"},
    {"odd head_dim", [](json &d) { text(d)["global_head_dim"] = 511; },
     "text_config.global_head_dim", "must be even for RoPE"},
    {"no sliding window", [](json &d) { text(d).erase("sliding_window"); },
     "text_config.sliding_window", "required field is missing"},
    {"unknown rope type",
     [](json &d) {
       text(d)["rope_parameters"]["full_attention"]["rope_type"] = "yarn";
     },
     "text_config.rope_parameters.full_attention.rope_type",
     "expected a known rope type"},
    {"rope factor off the pair grid",
     [](json &d) {
       text(d)["rope_parameters"]["full_attention"]["partial_rotary_factor"] =
           0.3;
     },
     "text_config.rope_parameters.full_attention.partial_rotary_factor",
     "does not select a whole number of the 256 frequency pairs"},
    {"negative rope theta",
     [](json &d) {
       text(d)["rope_parameters"]["sliding_attention"]["rope_theta"] = -1;
     },
     "text_config.rope_parameters.sliding_attention.rope_theta",
     "expected a positive rope_theta"},
    {"rope for a missing type",
     [](json &d) { text(d)["rope_parameters"].erase("full_attention"); },
     "text_config.rope_parameters.full_attention", "required field is missing"},
    {"rope for an unknown type",
     [](json &d) { text(d)["rope_parameters"]["chunked"] = json::object(); },
     "text_config.rope_parameters", "key \"chunked\" is not a layer type"},
    {"per-layer index out of range",
     [](json &d) {
       text(d)["per_layer_config"]["30"] = {{"head_dim", 512}};
       text(d).erase("global_head_dim");
       text(d).erase("num_global_key_value_heads");
     },
     "text_config.per_layer_config",
     "key \"30\" is not a layer index in [0, 30)"},
    {"per-layer unknown attribute",
     [](json &d) {
       text(d)["per_layer_config"]["5"] = {{"sliding_window", 4}};
       text(d).erase("global_head_dim");
       text(d).erase("num_global_key_value_heads");
     },
     "text_config.per_layer_config.5.sliding_window",
     "unknown per-layer attribute"},
    {"full layers of two geometries",
     [](json &d) {
       text(d).erase("global_head_dim");
       text(d).erase("num_global_key_value_heads");
       for (const char *l : {"5", "11", "17", "23", "29"})
         text(d)["per_layer_config"][l] = {{"head_dim", 512},
                                           {"num_key_value_heads", 2}};
       text(d)["per_layer_config"]["17"]["num_key_value_heads"] = 4;
     },
     "text_config.per_layer_config.17", "must share one KV-cache geometry"},
    {"both geometry forms",
     [](json &d) {
       text(d)["per_layer_config"]["5"] = {{"head_dim", 512}};
     },
     "text_config.global_head_dim", "conflicts with per_layer_config"},
    {"separate V on full layers",
     [](json &d) { text(d)["attention_k_eq_v"] = false; },
     "text_config.attention_k_eq_v", "no v_proj"},
    {"zero canvas", [](json &d) { d["canvas_length"] = 0; }, "canvas_length",
     "expected an integer in [1, 65536], got the number 0"},
    {"canvas beyond positions",
     [](json &d) { text(d)["max_position_embeddings"] = 128; }, "canvas_length",
     "exceeds max_position_embeddings (128)"},
    {"negative softcap",
     [](json &d) { text(d)["final_logit_softcapping"] = -30.0; },
     "text_config.final_logit_softcapping", "expected a positive softcap"},
    {"bidirectional everywhere",
     [](json &d) { text(d)["use_bidirectional_attention"] = "all"; },
     "text_config.use_bidirectional_attention",
     "expected \"vision\" or null, got \"all\""},
    {"another activation",
     [](json &d) { text(d)["hidden_activation"] = "relu"; },
     "text_config.hidden_activation", "gelu_pytorch_tanh"},
    {"untied head", [](json &d) { d["tie_word_embeddings"] = false; },
     "tie_word_embeddings", "tied input embedding"},
    {"bad epsilon", [](json &d) { text(d)["rms_norm_eps"] = 0; },
     "text_config.rms_norm_eps", "expected an epsilon in (0, 1)"},
    {"empty eos list", [](json &d) { d["eos_token_id"] = json::array(); },
     "eos_token_id", "non-empty list"},
    {"eos outside the vocabulary",
     [](json &d) {
       d["eos_token_id"] = {1, 262144};
     },
     "eos_token_id[1]", "expected an integer in [0, 262143]"},
    {"image token outside the vocabulary",
     [](json &d) { d["image_token_id"] = 300000; }, "image_token_id",
     "outside the vocabulary of 262144"},
    {"unknown dtype", [](json &d) { d["torch_dtype"] = "int8"; }, "torch_dtype",
     "expected \"bfloat16\", \"float16\" or \"float32\""},
    {"vision head_dim not divisible by 4",
     [](json &d) { d["vision_config"]["head_dim"] = 70; },
     "vision_config.head_dim", "divisible by 4"},
    {"unknown vision rope",
     [](json &d) {
       d["vision_config"]["rope_parameters"]["rope_type"] = "yarn";
     },
     "vision_config.rope_parameters.rope_type", "2-D rope type"},
    {"clipped linears",
     [](json &d) { d["vision_config"]["use_clipped_linears"] = true; },
     "vision_config.use_clipped_linears", "not supported"},
    {"vision kv heads",
     [](json &d) { d["vision_config"]["num_key_value_heads"] = 5; },
     "vision_config.num_key_value_heads",
     "num_attention_heads (16) is not divisible by 5"},
};

INSTANTIATE_TEST_SUITE_P(All, BadConfig, testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase> &info) {
                           std::string name = info.param.name;
                           for (char &c : name)
                             if (!isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           return name;
                         });

TEST(ModelConfig, MalformedJson) {
  for (const char *text : {"", "{", "{\"text_config\": }", "[1, 2", "nul"}) {
    dgc::ConfigError error;
    EXPECT_FALSE(dgc::parseModelConfig(text, "x.json", error)) << text;
    EXPECT_EQ(error.file, "x.json");
    EXPECT_NE(error.message.find("malformed JSON"), std::string::npos)
        << error.message;
  }
}

TEST(ModelConfig, DocumentOfTheWrongKind) {
  for (const char *text : {"null", "[]", "3", "\"config\""}) {
    dgc::ConfigError error;
    EXPECT_FALSE(dgc::parseModelConfig(text, "x.json", error)) << text;
    EXPECT_NE(error.message.find("expected an object"), std::string::npos)
        << error.message;
  }
}

TEST(ModelConfig, DeeplyNestedJsonIsAnErrorNotACrash) {
  std::string text = "{\"text_config\": " + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  dgc::ConfigError error;
  EXPECT_FALSE(dgc::parseModelConfig(text, "x.json", error));
  EXPECT_NE(error.message.find("nested deeper than 64 levels"),
            std::string::npos)
      << error.str();
}

// nlohmann keeps the last of two equal keys; the reader refuses them, and
// names a number too large for a double by its path.
TEST(ModelConfig, DuplicateKeysAndOverflowAreNamed) {
  struct Case {
    const char *text, *path, *message;
  } cases[] = {
      {R"({"text_config": {"hidden_size": 64, "hidden_size": 65}})",
       "text_config.hidden_size", "the key appears twice"},
      {R"({"a": [1, {"b": 2, "b": 3}]})", "a[1].b", "the key appears twice"},
      {R"({"text_config": {"rms_norm_eps": 1e400}})",
       "text_config.rms_norm_eps", "number overflow"},
  };
  for (const Case &c : cases) {
    dgc::ConfigError error;
    EXPECT_FALSE(dgc::parseModelConfig(c.text, "x.json", error)) << c.text;
    EXPECT_EQ(error.path, c.path) << c.text << ": " << error.str();
    EXPECT_NE(error.message.find(c.message), std::string::npos)
        << c.text << ": " << error.message;
  }
}

TEST(ModelConfig, MissingFileAndDirectory) {
  dgc::ConfigError error;
  EXPECT_FALSE(dgc::loadModelConfig("/nonexistent/config.json", error));
  EXPECT_EQ(error.str(), "/nonexistent/config.json: cannot open the file: No "
                         "such file or directory");
  std::string dir = testing::TempDir();
  EXPECT_FALSE(dgc::loadModelConfig(dir, error));
  EXPECT_NE(error.message.find("is a directory"), std::string::npos);
}

TEST(GenerationConfig, Reads26BA4BDefaults) {
  dgc::ConfigError error;
  auto g = dgc::loadGenerationConfig(
      kConfigs + "/diffusiongemma-26b-a4b/generation_config.json", error);
  ASSERT_TRUE(g) << error.str();
  const dgc::runtime::GenerationOptions &o = g->options;
  EXPECT_EQ(o.maxNewTokens, 256);
  EXPECT_EQ(o.maxDenoisingSteps, 48);
  EXPECT_DOUBLE_EQ(o.entropyBound, 0.1);
  EXPECT_DOUBLE_EQ(o.tMin, 0.4);
  EXPECT_DOUBLE_EQ(o.tMax, 0.8);
  EXPECT_EQ(o.stabilityThreshold, 1);
  EXPECT_DOUBLE_EQ(o.confidenceThreshold, 0.005);
  EXPECT_EQ(o.eosIds, (std::vector<int32_t>{1, 106, 50}));
  EXPECT_EQ(o.padId, 0);
  EXPECT_TRUE(g->eosStated);
}

TEST(GenerationConfig, EmptyObjectGivesReferenceDefaults) {
  dgc::ConfigError error;
  auto g = dgc::parseGenerationConfig("{}", "g.json", error);
  ASSERT_TRUE(g) << error.str();
  EXPECT_EQ(g->options.maxDenoisingSteps, 48);
  EXPECT_DOUBLE_EQ(g->options.entropyBound, 0.1);
  EXPECT_EQ(g->options.eosIds, (std::vector<int32_t>{1, 106, 50}));
  EXPECT_FALSE(g->eosStated);
}

// The runtime's reader (test/runtime/GenerationOptionsTest.cpp) with the
// file named, and the file checked whole.
TEST(GenerationConfig, BadValues) {
  struct Case {
    const char *text, *message;
  } cases[] = {
      {R"({"t_min": 0.9, "t_max": 0.8})",
       "g.json: t_max must be above t_min, got t_min 0.900000 and t_max "
       "0.800000"},
      {R"({"t_min": 0})", "g.json: t_min and t_max must be positive"},
      {R"({"t_min": -0.1})",
       "g.json: t_min: expected a temperature in [0, 1e6], got the number "
       "-0.1"},
      {R"({"t_max": 1e300})", "g.json: t_max: expected a temperature in [0, "
                              "1e6]"},
      {R"({"max_denoising_steps": 0})",
       "g.json: max_denoising_steps: expected an integer in [1, 65536], got "
       "the number 0"},
      {R"({"max_denoising_steps": 70000})",
       "g.json: max_denoising_steps: expected an integer in [1, 65536]"},
      {R"({"confidence_threshold": 1e7})",
       "g.json: confidence_threshold: expected a positive number up to 1e6"},
      {R"({"max_new_tokens": 16, "max_new_tokens": 0})",
       "g.json: key 'max_new_tokens' appears twice"},
      {R"({"sampler_config": {"entropy_bound": 1e400}})",
       "g.json: not valid JSON"},
      {R"({"sampler_config": {"entropy_bound": -1}})",
       "g.json: sampler_config.entropy_bound: expected a positive number"},
      {R"({"sampler_config": {"_cls_name": "TopKSamplerConfig"}})",
       "g.json: sampler_config._cls_name: expected "
       "\"EntropyBoundSamplerConfig\""},
      {R"({"confidence_threshold": "low"})",
       "g.json: confidence_threshold: expected a number, got the string "
       "\"low\""},
      {R"({"eos_token_id": ["1"]})",
       "g.json: eos_token_id[0]: expected an integer"},
      {R"({"stability_threshold": 1.5})",
       "g.json: stability_threshold: expected an integer"},
  };
  for (const Case &c : cases) {
    dgc::ConfigError error;
    EXPECT_FALSE(dgc::parseGenerationConfig(c.text, "g.json", error)) << c.text;
    EXPECT_NE(error.str().find(c.message), std::string::npos)
        << c.text << ": " << error.str();
  }
  // Stability 0 (confidence alone decides) is one of transformers' cases.
  dgc::ConfigError error;
  EXPECT_TRUE(dgc::parseGenerationConfig(R"({"stability_threshold": 0})",
                                         "g.json", error))
      << error.str();
}

} // namespace
