//===- batch_line_fuzzer.cpp - libFuzzer target for batch-file lines ------===//
//
// Each line of the input goes through dgc-run's batch-line parser; a line
// that parses has its generation options applied over the defaults, as
// dgc-run does for its request.
//
//===----------------------------------------------------------------------===//

#include "Inputs.h"

#include "GenerationChecks.h"

#include <cstdlib>
#include <string>

using namespace dgc::run;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string input(reinterpret_cast<const char *>(data), size);
  size_t start = 0;
  for (int number = 1; start < input.size(); ++number) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos)
      end = input.size();
    std::string line = input.substr(start, end - start);
    start = end + 1;
    std::string where = "fuzz.jsonl:" + std::to_string(number);
    auto in = parseBatchLine(line, where);
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (!in) {
      // Every failure names the line and says why.
      if (blank || in.error().rfind(where + ": ", 0) != 0 ||
          in.error().size() == where.size() + 2)
        std::abort();
      continue;
    }
    if (blank != !*in)
      std::abort();
    if (blank)
      continue;
    const Input &request = **in;
    // One prompt, text or ids; the options the line set, read by the one
    // reader, keep its promises over the defaults.
    if (request.where != where || !request.text == request.ids.empty())
      std::abort();
    for (const dgc::runtime::GenerationField *f : request.generation.set) {
      std::string key = f->key;
      if (!kLineGenerationKeys.count(key.substr(0, key.find('.'))))
        std::abort();
    }
    dgc::runtime::GenerationOptions options;
    dgc::fuzz::applyAndCheck(options, request.generation);
  }
  return 0;
}
