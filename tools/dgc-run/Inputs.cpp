//===- Inputs.cpp - dgc-run's prompts and batch files ---------------------===//

#include "Inputs.h"

#include "runtime/GenerationJson.h"
#include "runtime/StrictJson.h"

#include "dgc/runtime/Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace dgc::run {

using namespace dgc::runtime;
using nlohmann::json;

const char *const kLineKeys[4] = {"prompt", "prompt_ids", "images", "seed"};
// The top-level generation_config.json keys of the options.
const std::set<std::string> kLineGenerationKeys = [] {
  std::set<std::string> keys;
  for (const GenerationField &f : generationFields()) {
    std::string key = f.key;
    keys.insert(key.substr(0, key.find('.')));
  }
  return keys;
}();

int nestingDepth(const std::string &text) {
  int depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Result<std::optional<Input>> parseBatchLine(const std::string &line,
                                            const std::string &where) {
  if (line.find_first_not_of(" \t\r") == std::string::npos)
    return std::optional<Input>();
  // A request is a flat object; deep nesting would only exhaust the
  // parser's stack.
  if (nestingDepth(line) > kMaxNesting)
    return Error{where + ": nested deeper than " + std::to_string(kMaxNesting) +
                 " levels"};
  // Strict: a key given twice ("prompt_ids" twice) would otherwise keep
  // the last silently.
  std::string problem;
  std::optional<json> parsed =
      parseStrictJson(line, kMaxNesting, "key", problem);
  if (!parsed)
    return Error{where + ": " + problem};
  json &doc = *parsed;
  if (!doc.is_object())
    return Error{where + ": expected a JSON object per line"};
  Input in;
  in.where = where;
  json generation = json::object();
  for (auto &[key, value] : doc.items()) {
    if (key == "prompt" && value.is_string()) {
      in.text = value.get<std::string>();
    } else if (key == "prompt_ids" && value.is_array()) {
      for (const json &id : value) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() > INT32_MAX)
          return Error{where + ": prompt_ids: expected token ids"};
        in.ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
    } else if (key == "images" && value.is_array()) {
      for (const json &file : value) {
        if (!file.is_string())
          return Error{where + ": images: expected file names"};
        in.images.push_back(file.get<std::string>());
      }
    } else if (key == "seed" && value.is_number_unsigned()) {
      in.seed = value.get<uint64_t>();
    } else if (key == "prompt" || key == "prompt_ids" || key == "seed" ||
               key == "images") {
      return Error{where + ": " + key + " has the wrong type"};
    } else if (kLineGenerationKeys.count(key)) {
      generation[key] = value;
    } else {
      // A key not honoured is refused, not ignored.
      std::string known;
      for (const char *k : kLineKeys)
        known += std::string(known.empty() ? "" : ", ") + k;
      for (const std::string &k : kLineGenerationKeys)
        known += ", " + k;
      return Error{where + ": unknown key '" + key + "' (a line takes " +
                   known + ")"};
    }
  }
  if (!in.text == in.ids.empty())
    return Error{where + ": expected one of \"prompt\" or \"prompt_ids\""};
  // The keys are generation_config.json's, read by its reader.
  if (Status s = readGenerationJson(generation, where, in.generation); !s)
    return Error{s.error()};
  return std::optional<Input>(std::move(in));
}

Result<std::vector<Input>> readInputs(const Options &o) {
  std::vector<Input> inputs;
  if (o.prompt) {
    Input in;
    in.where = "--prompt";
    in.text = o.prompt;
    in.images = o.images;
    inputs.push_back(std::move(in));
    return inputs;
  }
  if (o.promptIds) {
    Input in;
    in.where = "--prompt-ids";
    in.images = o.images;
    std::string token;
    for (char c : *o.promptIds + " ") {
      if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
        if (token.empty())
          continue;
        char *end = nullptr;
        long long v = std::strtoll(token.c_str(), &end, 10);
        if (*end || v < 0 || v > INT32_MAX)
          return Error{"--prompt-ids: '" + token + "' is not a token id"};
        in.ids.push_back(static_cast<int32_t>(v));
        token.clear();
      } else {
        token += c;
      }
    }
    inputs.push_back(std::move(in));
    return inputs;
  }
  Result<std::string> text = readRegularFile(*o.batchFile);
  if (!text)
    return Error{"--batch-file: " + text.error()};
  std::istringstream lines(*text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    auto in = parseBatchLine(line, *o.batchFile + ":" + std::to_string(number));
    if (!in)
      return Error{in.error()};
    if (*in)
      inputs.push_back(std::move(**in));
  }
  if (inputs.empty())
    return Error{*o.batchFile + ": no requests in the file"};
  return inputs;
}

} // namespace dgc::run
