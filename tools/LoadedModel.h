//===- LoadedModel.h - A module, its weights and defaults, loaded -*- C++ -*-=//
//
// What dgc-run and dgc-serve both need before the first request: the module
// loaded for a device, the checkpoint's weights bound, the generation
// defaults (compiled in, then the checkpoint's generation_config.json), and
// the tokenizer with the checkpoint's chat template text when there are.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_LOADEDMODEL_H
#define DGC_TOOLS_LOADEDMODEL_H

#include "dgc/runtime/CompiledModule.h"
#include "dgc/runtime/Sampler.h"
#include "dgc/runtime/Tokenizer.h"

#include <memory>
#include <optional>
#include <string>

namespace dgc {

struct LoadedModel {
  std::unique_ptr<runtime::CompiledModule> module;
  runtime::GenerationOptions defaults;
  std::optional<runtime::Tokenizer> tokenizer;
  std::string tokenizerPath; // where it was looked for
  /// The chat template's Jinja text and the file it came from:
  /// chat_template.jinja, else tokenizer_config.json's "chat_template".
  std::optional<std::string> chatTemplate;
  std::string chatTemplatePath;
};

/// Loads `modulePath` for `device` with the checkpoint in `weightsDir`; every
/// error names the file and the problem.
runtime::Result<LoadedModel> loadModel(const std::string &modulePath,
                                       const std::string &weightsDir,
                                       runtime::Device device);

/// `path`'s text, nothing if it does not exist, an error if it exists but is
/// no regular file (a FIFO would block a read).
runtime::Result<std::optional<std::string>>
readOptionalFile(const std::string &path);

} // namespace dgc

#endif // DGC_TOOLS_LOADEDMODEL_H
