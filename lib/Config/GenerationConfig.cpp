//===- GenerationConfig.cpp - Reading generation_config.json --------------===//
//
// The sampler's defaults, read by the runtime's reader (GenerationOptions.h)
// so that a module carries only values the runtime takes. Every key is
// optional; the file as a whole must also be a schedule the sampler can run
// (validate()), since nothing a run gives later can repair a compiled-in
// default it refuses.
//
//===----------------------------------------------------------------------===//

#include "JsonReader.h"

namespace dgc {
namespace {

GenerationConfig parseGeneration(std::string_view text,
                                 const std::string &file) {
  runtime::GenerationOverrides read;
  auto fail = [&](const runtime::Status &s) {
    // The runtime's message starts with the file it was given.
    std::string message = s.error();
    if (message.rfind(file + ": ", 0) == 0)
      message.erase(0, file.size() + 2);
    throw ConfigError{file, "", message};
  };
  if (runtime::Status s = runtime::readGenerationConfig(text, file, read); !s)
    fail(s);
  GenerationConfig g;
  read.applyTo(g.options);
  if (runtime::Status s = g.options.validate(); !s)
    fail(s);
  g.eosStated = read.has(*runtime::generationFieldByName("eos"));
  return g;
}

} // namespace

runtime::GenerationOptions GenerationConfig::defaults() {
  runtime::GenerationOptions o;
  o.eosIds = {1, 106, 50};
  return o;
}

std::optional<GenerationConfig>
parseGenerationConfig(std::string_view text, const std::string &fileName,
                      ConfigError &error) {
  try {
    return parseGeneration(text, fileName);
  } catch (const ConfigError &e) {
    error = e;
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
