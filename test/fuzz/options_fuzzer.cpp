//===- options_fuzzer.cpp - libFuzzer target for dgc-run's command line ---===//
//
// The input is split on NUL bytes into argv (after "dgc-run"). A command line
// either parses into Options that keep parseOptions' promises or fails with
// a message; what parses goes on as dgc-run takes it: the generation flags,
// read by the one reader of options, apply over the defaults, and a prompt
// becomes a request.
//
//===----------------------------------------------------------------------===//

#include "Inputs.h"
#include "Options.h"

#include "GenerationChecks.h"

#include <cstdlib>
#include <string>
#include <vector>

using namespace dgc::run;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string input(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> args = {"dgc-run"};
  for (size_t start = 0; start < input.size();) {
    size_t end = input.find('\0', start);
    if (end == std::string::npos)
      end = input.size();
    args.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char *> argv;
  for (std::string &arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::string error;
  bool help = true; // parseOptions must clear it
  std::optional<Options> o =
      parseOptions(static_cast<int>(args.size()), argv.data(), error, help);
  if (help) {
    if (o)
      std::abort();
    return 0;
  }
  if (!o) {
    if (error.empty()) // Every failure says why.
      std::abort();
    return 0;
  }
  if (!error.empty() || o->module.empty() || o->weights.empty() ||
      !!o->prompt + !!o->promptIds + !!o->batchFile != 1 ||
      (o->batchFile && !o->images.empty()) || o->maxBatch < 1 ||
      o->maxBatch > 4096 || o->pageSize < 1 || o->pageSize > (1 << 16) ||
      (o->cachePages && *o->cachePages < 1) ||
      (o->draw && *o->draw != "exact" && *o->draw != "top64"))
    std::abort();
  for (const std::string &image : o->images)
    if (image.empty())
      std::abort();

  // The generation flags were read by the one reader of options: what it
  // took is in range, over the defaults as over any earlier source.
  for (const dgc::runtime::GenerationField *f : o->generation.set)
    if (!f->flag || std::string(f->flag).rfind("--", 0) != 0)
      std::abort();
  dgc::runtime::GenerationOptions defaults;
  dgc::fuzz::applyAndCheck(defaults, o->generation);

  if (o->batchFile) // Reading it would touch the disk.
    return 0;
  auto inputs = readInputs(*o);
  if (!inputs) {
    if (inputs.error().rfind("--prompt-ids: '", 0) != 0)
      std::abort();
    return 0;
  }
  if (inputs->size() != 1 || (*inputs)[0].images != o->images ||
      (*inputs)[0].text != o->prompt)
    std::abort();
  return 0;
}
