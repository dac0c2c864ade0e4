//===- Inputs.h - dgc-run's prompts and batch files -------------*- C++ -*-===//
//
// The requests the command line gives, before tokenisation: one from
// --prompt or --prompt-ids, or one per line of a --batch-file. A batch line
// is parsed on its own (parseBatchLine) so that it can be fuzzed without a
// file.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_DGC_RUN_INPUTS_H
#define DGC_TOOLS_DGC_RUN_INPUTS_H

#include "Options.h"

#include "dgc/runtime/GenerationOptions.h"
#include "dgc/runtime/Result.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dgc::run {

/// One request as given, before tokenisation.
struct Input {
  std::string where; // for messages: "--prompt", "FILE:3"
  std::optional<std::string> text;
  std::vector<int32_t> ids;
  std::optional<uint64_t> seed;
  runtime::GenerationOverrides generation; // the line's own options
  std::vector<std::string> images;
};

/// A batch line's own keys, and the generation_config.json keys it may set
/// for its request (those the command line sets too).
extern const char *const kLineKeys[4];
extern const std::set<std::string> kLineGenerationKeys;
/// How deeply a batch line may nest.
constexpr int kMaxNesting = 32;

/// How deeply the arrays and objects of a JSON text nest (brackets inside
/// strings do not count).
int nestingDepth(const std::string &text);

/// One line of a batch file: nullopt when it is blank, else its request or
/// an error that starts with `where` ("FILE:3").
runtime::Result<std::optional<Input>> parseBatchLine(const std::string &line,
                                                     const std::string &where);

/// The requests of the command line: its prompt, or its batch file's lines.
runtime::Result<std::vector<Input>> readInputs(const Options &o);

} // namespace dgc::run

#endif // DGC_TOOLS_DGC_RUN_INPUTS_H
