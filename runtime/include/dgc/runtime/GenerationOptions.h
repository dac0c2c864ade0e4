//===- GenerationOptions.h - The sampler's options, read once ---*- C++ -*-===//
//
// Every option of DiffusionGemma's sampler in one struct, and the one reader
// of them. Each option is a row of generationFields(): its
// generation_config.json key, its name in a module (manifest.json's
// model.generation, #dg.model's generation), its dgc-run flag, its range.
// Everything that reads or writes options goes through that table:
//
//   - dgc reads a generation_config.json with readGenerationConfig and
//     compiles the result into the module (the names and kinds of the rows);
//   - the runtime reads the module's section (readManifestGeneration), the
//     checkpoint's file, dgc-run's flags (parseGenerationFlag), batch lines
//     and dgc-serve's request fields, each into a GenerationOverrides that
//     applies over the options before it.
//
// A new option is a field below, a row in GenerationOptions.cpp, and the code
// that uses it.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_GENERATIONOPTIONS_H
#define DGC_RUNTIME_GENERATIONOPTIONS_H

#include "dgc/runtime/Result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dgc::runtime {

/// How each position's candidate token is drawn from softmax(x).
enum class DrawMode {
  /// The full vocabulary, exactly (the reference): drawn inside the
  /// decoder step, by Gumbel-max from seeds the request's RandomSource gives.
  Exact,
  /// The 64 most likely tokens, renormalised: an approximation.
  TopK,
};

/// Every option of the sampler; defaults are transformers' global defaults.
struct GenerationOptions {
  int64_t maxNewTokens = 256;
  int64_t maxDenoisingSteps = 48;
  double tMin = 0.4, tMax = 0.8;
  double entropyBound = 0.1;
  int64_t stabilityThreshold = 1;
  double confidenceThreshold = 0.005;
  std::vector<int32_t> eosIds;
  int32_t padId = 0;
  /// Not a generation_config.json key: dgc-run's --draw.
  DrawMode draw = DrawMode::Exact;

  /// Overrides the fields the generation_config.json `text` sets
  /// (readGenerationConfig); on an error, naming `path` and the key,
  /// nothing changes.
  Status mergeGenerationConfig(std::string_view text, const std::string &path);
  /// What holds between options, and what the sampler's float32 arithmetic
  /// needs; the message names the first bad one.
  Status validate() const;
  /// Canvases a request generates at most: ceil(maxNewTokens / canvas).
  int64_t maxCanvases(int64_t canvasLength) const {
    return (maxNewTokens + canvasLength - 1) / canvasLength;
  }
};

/// What kind of value an option holds.
enum class GenerationKind {
  Integer,  // int64_t
  Real,     // double
  TokenId,  // int32_t, in [0, 2^31 - 1]
  TokenIds, // std::vector<int32_t>: an id or a non-empty list of ids
};

/// One option: its names, its kind and range, and its field.
struct GenerationField {
  /// generation_config.json's key; one inside an object is a dotted path
  /// ("sampler_config.entropy_bound").
  const char *key;
  /// The option in a module: manifest.json's model.generation and #dg.model's
  /// generation dictionary.
  const char *name;
  /// dgc-run's flag and its value's placeholder and help.
  const char *flag, *metavar, *help;
  /// Whether dgc-serve takes it as a request field (under `name`).
  bool inRequests;
  GenerationKind kind;
  /// The range (Integer and Real); `minExcluded` for "positive".
  double min, max;
  bool minExcluded;
  /// The rule, for messages: "an integer in [1, 65536]".
  const char *rule;
  /// The field, by kind.
  int64_t GenerationOptions::*integer;
  double GenerationOptions::*real;
  int32_t GenerationOptions::*tokenId;
  std::vector<int32_t> GenerationOptions::*tokenIds;
};

/// Every option, in the order dgc-run's --help lists them.
const std::vector<GenerationField> &generationFields();
/// The option dgc-run's `flag` sets, or null.
const GenerationField *generationFieldByFlag(std::string_view flag);
/// The option a module or a request names `name`, or null.
const GenerationField *generationFieldByName(std::string_view name);

/// The options one source sets (a file, a module, the command line, a batch
/// line, a request), applied over those of the sources before it.
struct GenerationOverrides {
  /// The values; only those of `set` mean anything.
  GenerationOptions values;
  std::vector<const GenerationField *> set;

  bool has(const GenerationField &field) const;
  bool empty() const { return set.empty(); }
  /// Copies `field` from `from` into `values` and marks it set.
  void take(const GenerationField &field, const GenerationOptions &from);
  /// Sets the fields of `set` in `options`; the later source wins.
  void applyTo(GenerationOptions &options) const;
  /// Adds `later`'s fields, which win.
  void merge(const GenerationOverrides &later);
};

/// Reads a generation_config.json `text`: each key of generationFields()
/// that is present and not null, checked against its range; unknown keys
/// are ignored (transformers keeps them as custom entries). Errors start
/// with `path` and name the key: `path: t_min: expected ..., got ...`.
Status readGenerationConfig(std::string_view text, const std::string &path,
                            GenerationOverrides &out);

/// Reads one of dgc-run's flag values, `text`, for `field`: a decimal number
/// in its range, or a list of ids separated by spaces or commas. Errors name
/// the flag.
Status parseGenerationFlag(const GenerationField &field, std::string_view text,
                           GenerationOverrides &out);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_GENERATIONOPTIONS_H
