//===- generation_merge_fuzzer.cpp - libFuzzer target for merges ----------===//
//
// The one reader of generation options (GenerationOptions.cpp, which dgc
// compile uses too) over a sequence of generation_config.json texts, merged
// as dgc-run layers its sources (the module's, the checkpoint's, ...). The
// input is split on NUL bytes, one text each, eight at most: more layers
// find nothing new and only slow the fuzzer down.
//
//===----------------------------------------------------------------------===//

#include "GenerationChecks.h"

#include <string>

using namespace dgc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string input(reinterpret_cast<const char *>(data), size);
  GenerationOptions options;
  size_t start = 0;
  for (int n = 0; start <= input.size(); ++n) {
    size_t end = n == 7 ? std::string::npos : input.find('\0', start);
    if (end == std::string::npos)
      end = input.size();
    dgc::fuzz::mergeAndCheck(options, input.substr(start, end - start),
                             "doc" + std::to_string(n));
    start = end + 1;
  }
  return 0;
}
