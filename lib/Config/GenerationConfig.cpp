//===- GenerationConfig.cpp - Reading generation_config.json --------------===//
//
// The sampler's defaults. Every field is optional (the reference defaults
// apply), but a field that is present must make sense.
//
//===----------------------------------------------------------------------===//

#include "JsonReader.h"

using nlohmann::json;

namespace dgc {
namespace {

using detail::JsonNode;

constexpr int64_t kMaxTokenId = (int64_t(1) << 31) - 1;

// The runtime reads a module's compiled-in values back with these bounds
// (GenerationOptions::mergeGenerationConfig); a value past them would make
// a module no run can load.
constexpr int64_t kMaxSteps = 1 << 16;
constexpr double kMaxReal = 1e6;

double positive(const JsonNode &node, std::string_view key, double dflt) {
  if (!node.find(key))
    return dflt;
  JsonNode v = node.member(key);
  double x = v.asNumber();
  if (!(x > 0 && x <= kMaxReal))
    v.fail("expected a positive number up to 1e6, got " + v.raw().dump());
  return x;
}

GenerationConfig parseGeneration(std::string_view text,
                                 const std::string &file) {
  json doc = detail::parseJson(text, file);
  JsonNode root(doc, "", file);
  root.expectObject();
  GenerationConfig g;
  g.maxNewTokens = root.getInt("max_new_tokens", g.maxNewTokens, 1, 1 << 24);
  g.maxDenoisingSteps =
      root.getInt("max_denoising_steps", g.maxDenoisingSteps, 1, kMaxSteps);
  g.stabilityThreshold =
      root.getInt("stability_threshold", g.stabilityThreshold, 1, kMaxSteps);
  g.confidenceThreshold =
      positive(root, "confidence_threshold", g.confidenceThreshold);
  if (root.find("sampler_config")) {
    JsonNode sampler = root.member("sampler_config");
    sampler.expectObject();
    std::string cls =
        sampler.getString("_cls_name", "EntropyBoundSamplerConfig");
    if (cls != "EntropyBoundSamplerConfig")
      sampler.member("_cls_name")
          .fail("expected \"EntropyBoundSamplerConfig\" (the only sampler), "
                "got \"" +
                cls + "\"");
    g.entropyBound = positive(sampler, "entropy_bound", g.entropyBound);
  }
  for (const char *key : {"t_min", "t_max"})
    if (root.find(key) && !(root.member(key).asNumber() >= 0 &&
                            root.member(key).asNumber() <= kMaxReal))
      root.member(key).fail("expected a temperature in [0, 1e6], got " +
                            root.member(key).raw().dump());
  g.tMin = root.getNumber("t_min", g.tMin);
  g.tMax = root.getNumber("t_max", g.tMax);
  if (!(g.tMax > g.tMin))
    (root.find("t_max") ? root.member("t_max") : root.member("t_min"))
        .fail("expected t_max > t_min, got t_min " + std::to_string(g.tMin) +
              " and t_max " + std::to_string(g.tMax));
  if (root.find("eos_token_id")) {
    g.eosTokenIds = root.member("eos_token_id").asIntList(0, kMaxTokenId);
    g.eosStated = true;
  }
  g.padTokenId = root.getInt("pad_token_id", g.padTokenId, 0, kMaxTokenId);
  return g;
}

} // namespace

std::optional<GenerationConfig>
parseGenerationConfig(std::string_view text, const std::string &fileName,
                      ConfigError &error) {
  try {
    return parseGeneration(text, fileName);
  } catch (const ConfigError &e) {
    error = e;
  } catch (const std::exception &e) {
    error =
        ConfigError{fileName, "", std::string("invalid config: ") + e.what()};
  }
  return std::nullopt;
}

std::optional<GenerationConfig>
loadGenerationConfig(const std::string &fileName, ConfigError &error) {
  try {
    return parseGeneration(detail::readFile(fileName, 1 << 20), fileName);
  } catch (const ConfigError &e) {
    error = e;
  } catch (const std::exception &e) {
    error =
        ConfigError{fileName, "", std::string("invalid config: ") + e.what()};
  }
  return std::nullopt;
}

} // namespace dgc
