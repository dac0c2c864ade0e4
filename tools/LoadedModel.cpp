//===- LoadedModel.cpp - A module, its weights and defaults, loaded -------===//

#include "tools/LoadedModel.h"

#include "dgc/runtime/Files.h"

#include <nlohmann/json.hpp>

namespace dgc {

using namespace runtime;

Result<std::optional<std::string>> readOptionalFile(const std::string &path) {
  if (!fileExists(path))
    return std::optional<std::string>();
  Result<std::string> text = readRegularFile(path);
  if (!text)
    return Error{text.error()};
  return std::optional<std::string>(std::move(*text));
}

Result<LoadedModel> loadModel(const std::string &modulePath,
                              const std::string &weightsDir, Device device) {
  LoadedModel out;
  auto module = CompiledModule::load(modulePath, device);
  if (!module)
    return Error{module.error()};
  const Manifest &manifest = module->manifest();
  if (Status s = checkGenerationGraphs(manifest); !s)
    return Error{s.error()};
  auto checkpoint = Checkpoint::open(weightsDir);
  if (!checkpoint)
    return Error{checkpoint.error()};
  if (Status s = module->bindWeights(*checkpoint); !s)
    return Error{s.error()};
  out.module = std::make_unique<CompiledModule>(std::move(*module));

  // Generation defaults: compiled in, then the checkpoint's.
  manifest.generation.applyTo(out.defaults);
  std::string generationPath = weightsDir + "/generation_config.json";
  auto generation = readOptionalFile(generationPath);
  if (!generation)
    return Error{generation.error()};
  if (*generation)
    if (Status s =
            out.defaults.mergeGenerationConfig(**generation, generationPath);
        !s)
      return Error{s.error()};

  out.tokenizerPath = weightsDir + "/tokenizer.json";
  if (!fileExists(out.tokenizerPath))
    return out;
  auto tokenizer = Tokenizer::load(out.tokenizerPath);
  if (!tokenizer)
    return Error{tokenizer.error()};
  out.tokenizer = std::move(*tokenizer);
  // The checkpoint's own chat template, in either of the places
  // transformers keeps it.
  std::string jinjaPath = weightsDir + "/chat_template.jinja";
  auto jinja = readOptionalFile(jinjaPath);
  if (!jinja)
    return Error{jinja.error()};
  if (*jinja) {
    out.chatTemplate = std::move(**jinja);
    out.chatTemplatePath = jinjaPath;
  } else {
    std::string configPath = weightsDir + "/tokenizer_config.json";
    auto config = readOptionalFile(configPath);
    if (!config)
      return Error{config.error()};
    if (*config) {
      auto doc = nlohmann::json::parse(**config, nullptr, false);
      if (doc.is_discarded() || !doc.is_object())
        return Error{configPath + ": not a JSON object"};
      if (auto t = doc.find("chat_template"); t != doc.end()) {
        if (!t->is_string())
          return Error{configPath +
                       ": chat_template: expected a string (one template)"};
        out.chatTemplate = t->get<std::string>();
        out.chatTemplatePath = configPath + ": chat_template";
      }
    }
  }
  if (out.chatTemplate)
    if (Status s = out.tokenizer->useChatTemplate(*out.chatTemplate,
                                                  out.chatTemplatePath);
        !s)
      return Error{s.error()};
  return out;
}

} // namespace dgc
