//===- GenerationOptionsTest.cpp - The one reader of generation options ---===//
//
// Every source of options goes through the table of GenerationOptions.cpp:
// generation_config.json texts, a module's model.generation, dgc-run's flags
// and values given as JSON (batch lines, requests). dgc compile's reader is
// the same one (test/unit/ConfigTest.cpp checks its file handling).
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/GenerationOptions.h"

#include "GenerationJson.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

TEST(GenerationOptions, ReadsGenerationConfig) {
  std::ifstream in(std::string(DGC_TINY_FIXTURES) +
                   "/checkpoint/generation_config.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  GenerationOptions o;
  ASSERT_TRUE(o.mergeGenerationConfig(text, "generation_config.json"));
  EXPECT_EQ(o.maxNewTokens, 32);
  EXPECT_EQ(o.maxDenoisingSteps, 8);
  EXPECT_EQ(o.entropyBound, 0.1);
  EXPECT_EQ(o.eosIds, (std::vector<int32_t>{1, 106, 50}));
  EXPECT_EQ(o.padId, 0);
  EXPECT_TRUE(o.validate());
}

TEST(GenerationOptions, NullKeepsTheDefaultAndOneEosIdIsAList) {
  GenerationOptions o;
  ASSERT_TRUE(o.mergeGenerationConfig(
      R"({"t_min": null, "eos_token_id": 106, "custom": [1]})", "g.json"));
  EXPECT_EQ(o.tMin, 0.4);
  EXPECT_EQ(o.eosIds, (std::vector<int32_t>{106}));
}

TEST(GenerationOptions, BadValuesNameTheKeyAndChangeNothing) {
  struct Case {
    const char *text, *expected;
  } cases[] = {
      {"[1]", "expected a JSON object"},
      {"{\"max_new_tokens\": 2.5}", "max_new_tokens: expected an integer"},
      {"{\"max_new_tokens\": 0}", "max_new_tokens: expected an integer in [1, "
                                  "16777216], got the number 0"},
      {"{\"t_max\": \"hot\"}", "t_max: expected a number"},
      {"{\"sampler_config\": 3}", "sampler_config: expected an object"},
      {"{\"sampler_config\": {\"entropy_bound\": -1}}", "entropy_bound"},
      {"{\"eos_token_id\": [1, \"x\"]}",
       "eos_token_id[1]: expected an integer in [0, 2147483647], got the "
       "string \"x\""},
      {"{\"eos_token_id\": []}", "eos_token_id: expected an integer or a"},
      {"{\"confidence_threshold\": 0}",
       "confidence_threshold: expected a positive number up to 1e6, got the "
       "number 0"},
      {"{\"sampler_config\": {\"_cls_name\": \"TopK\"}}",
       "sampler_config._cls_name: expected \"EntropyBoundSamplerConfig\""},
      {"{\"t_min\": 0.1, \"t_min\": 0.2}", "appears twice"},
      {"{", "g.json"},
  };
  for (const Case &c : cases) {
    GenerationOptions o;
    o.maxDenoisingSteps = 5;
    Status s = o.mergeGenerationConfig(c.text, "g.json");
    ASSERT_FALSE(s) << c.text;
    EXPECT_NE(s.error().find(c.expected), std::string::npos)
        << c.text << " -> " << s.error();
    EXPECT_EQ(o.maxDenoisingSteps, 5);
    EXPECT_EQ(o.tMin, 0.4);
  }
}

TEST(GenerationOptions, ValidateNamesTheBadOption) {
  GenerationOptions o;
  o.entropyBound = 0;
  EXPECT_NE(o.validate().error().find("entropy_bound"), std::string::npos);
  o = {};
  o.tMin = -1;
  EXPECT_NE(o.validate().error().find("t_min"), std::string::npos);
  o = {};
  o.maxDenoisingSteps = 0;
  EXPECT_NE(o.validate().error().find("max_denoising_steps"),
            std::string::npos);
  // Positive as doubles, but 0 as the float32 the schedule computes in.
  o = {};
  o.tMin = 1e-46;
  o.tMax = 1e-45;
  EXPECT_NE(o.validate().error().find("t_min"), std::string::npos);
}

TEST(GenerationOptions, EveryFieldHasDistinctNamesAndOneMember) {
  std::set<std::string> keys, names, flags;
  for (const GenerationField &f : generationFields()) {
    EXPECT_TRUE(keys.insert(f.key).second) << f.key;
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_TRUE(flags.insert(f.flag).second) << f.flag;
    EXPECT_EQ(!!f.integer + !!f.real + !!f.tokenId + !!f.tokenIds, 1) << f.key;
    EXPECT_EQ(generationFieldByFlag(f.flag), &f);
    EXPECT_EQ(generationFieldByName(f.name), &f);
  }
}

TEST(GenerationOptions, ModuleNamesReadBackWhatTheFileSet) {
  GenerationOverrides file;
  ASSERT_TRUE(readGenerationConfig(
      R"({"t_min": 0.1, "sampler_config": {"entropy_bound": 0.3},
          "eos_token_id": 7, "pad_token_id": 3})",
      "g.json", file));
  GenerationOptions o;
  file.applyTo(o);
  // What dgc compile writes: every option under its module name.
  json section = json::object();
  for (const GenerationField &f : generationFields()) {
    if (f.integer)
      section[f.name] = o.*f.integer;
    else if (f.real)
      section[f.name] = o.*f.real;
    else if (f.tokenId)
      section[f.name] = o.*f.tokenId;
    else
      section[f.name] = o.*f.tokenIds;
  }
  EXPECT_EQ(section["entropy_bound"], 0.3);
  EXPECT_EQ(section["eos"], json::array({7}));
  GenerationOverrides module;
  ASSERT_TRUE(readModuleGeneration(section, "model.generation", module));
  EXPECT_EQ(module.set.size(), generationFields().size());
  GenerationOptions back;
  module.applyTo(back);
  EXPECT_EQ(back.tMin, 0.1);
  EXPECT_EQ(back.entropyBound, 0.3);
  EXPECT_EQ(back.eosIds, (std::vector<int32_t>{7}));
  EXPECT_EQ(back.padId, 3);

  section["t_max"] = "hot";
  Status s = readModuleGeneration(section, "model.generation", module);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), "model.generation.t_max: expected a number, got the "
                       "string \"hot\"");
}

TEST(GenerationOptions, FlagsAreTypedAndRangeChecked) {
  struct Case {
    const char *flag, *value, *error;
  } cases[] = {
      {"--max-new-tokens", "0",
       "--max-new-tokens: '0' is not an integer in [1, 16777216]"},
      {"--max-new-tokens", "1e3",
       "--max-new-tokens: '1e3' is not an integer in [1, 16777216]"},
      {"--t-min", "-0.5", "--t-min: '-0.5' is not a temperature in [0, 1e6]"},
      {"--t-min", "inf", "--t-min: 'inf' is not a finite decimal number"},
      {"--entropy-bound", "0",
       "--entropy-bound: '0' is not a positive number up to 1e6"},
      {"--eos-ids", "1 x", "--eos-ids: '1 x' is not a list of token ids"},
      {"--eos-ids", " , ", "--eos-ids: ' , ' is not a list of token ids"},
  };
  for (const Case &c : cases) {
    GenerationOverrides o;
    Status s = parseGenerationFlag(*generationFieldByFlag(c.flag), c.value, o);
    ASSERT_FALSE(s) << c.flag << " " << c.value;
    EXPECT_EQ(s.error(), c.error);
    EXPECT_TRUE(o.empty());
  }
  GenerationOverrides o;
  ASSERT_TRUE(
      parseGenerationFlag(*generationFieldByFlag("--eos-ids"), "1, 106 50", o));
  ASSERT_TRUE(parseGenerationFlag(*generationFieldByFlag("--t-max"), ".5", o));
  GenerationOptions options;
  o.applyTo(options);
  EXPECT_EQ(options.eosIds, (std::vector<int32_t>{1, 106, 50}));
  EXPECT_EQ(options.tMax, 0.5);
  EXPECT_EQ(options.tMin, 0.4); // not set: kept
}

TEST(GenerationOptions, LaterSourcesWin) {
  GenerationOverrides module, flags;
  ASSERT_TRUE(
      readGenerationConfig(R"({"t_min": 0.1, "t_max": 0.2})", "m", module));
  ASSERT_TRUE(readGenerationValue(*generationFieldByName("t_max"), json(0.9),
                                  "t_max", flags));
  ASSERT_FALSE(readGenerationValue(*generationFieldByName("t_max"), json(-1),
                                   "t_max", flags));
  GenerationOptions o;
  module.applyTo(o);
  flags.applyTo(o);
  EXPECT_EQ(o.tMin, 0.1);
  EXPECT_EQ(o.tMax, 0.9);
  EXPECT_TRUE(o.validate());
}

} // namespace
