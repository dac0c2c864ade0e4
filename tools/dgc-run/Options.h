//===- Options.h - dgc-run's command line -----------------------*- C++ -*-===//
//
// dgc-run links only the runtime (no LLVM), so it parses its own options:
// `--name value` or `--name=value`, one positional MODEL.dgm.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TOOLS_DGC_RUN_OPTIONS_H
#define DGC_TOOLS_DGC_RUN_OPTIONS_H

#include "dgc/runtime/GenerationOptions.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dgc::run {

struct Options {
  std::string module;
  std::string weights;
  std::optional<std::string> promptIds, prompt, batchFile;
  bool chatTemplate = true;
  /// --image, in order: one image token of the prompt each.
  std::vector<std::string> images;

  /// The generation flags given, applied over the module's and the
  /// checkpoint's defaults.
  runtime::GenerationOverrides generation;
  std::optional<std::string> draw; // exact | top64

  uint64_t seed = 0;
  std::string device = "host";
  int64_t maxBatch = 8;
  int64_t threads = 0; // of the host code; 0: one per core
  int64_t pageSize = 16;
  std::optional<int64_t> cachePages;

  bool json = false, showSteps = false, quiet = false;
  bool checkFinite = false;
};

/// The --help text.
std::string usage();

/// Parses argv; on a bad command line returns nullopt with `error` set.
/// `--help` sets `help`.
std::optional<Options> parseOptions(int argc, char **argv, std::string &error,
                                    bool &help);

} // namespace dgc::run

#endif // DGC_TOOLS_DGC_RUN_OPTIONS_H
