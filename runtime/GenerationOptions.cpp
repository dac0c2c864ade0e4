//===- GenerationOptions.cpp - The sampler's options, read once -----------===//
//
// The table of options and the one reader of their values, whatever they
// come in: generation_config.json (dgc compile and the runtime alike), a
// module's model.generation, dgc-run's flags and batch lines, dgc-serve's
// requests. A range is stated once, in the table, so that a value one reader
// takes no other refuses.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/GenerationOptions.h"

#include "GenerationJson.h"
#include "StrictJson.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace dgc::runtime {

using nlohmann::json;

namespace {

using O = GenerationOptions;
using K = GenerationKind;

// The bounds keep a module's compiled-in values loadable, a step count a
// schedule float32 can tell apart, and a token id an int32.
constexpr double kMaxSteps = 1 << 16;
constexpr double kMaxReal = 1e6;
constexpr double kMaxId = INT32_MAX;

GenerationField integer(const char *key, const char *flag, const char *help,
                        bool inRequests, double min, double max,
                        const char *rule, int64_t O::*field) {
  return {key, key,   flag, "N",   help,    inRequests, K::Integer, min,
          max, false, rule, field, nullptr, nullptr,    nullptr};
}

GenerationField real(const char *key, const char *name, const char *flag,
                     const char *help, bool positive, const char *rule,
                     double O::*field) {
  return {key,      name,     flag, "X",     help,  true,    K::Real, 0,
          kMaxReal, positive, rule, nullptr, field, nullptr, nullptr};
}

} // namespace

const std::vector<GenerationField> &generationFields() {
  static const std::vector<GenerationField> fields = {
      integer("max_new_tokens", "--max-new-tokens",
              "tokens to generate, in whole canvases", false, 1, 1 << 24,
              "an integer in [1, 16777216]", &O::maxNewTokens),
      integer("max_denoising_steps", "--max-denoising-steps",
              "steps per canvas at most (N of the schedule)", true, 1,
              kMaxSteps, "an integer in [1, 65536]", &O::maxDenoisingSteps),
      real("t_min", "t_min", "--t-min",
           "the coldest temperature: t_min + (t_max-t_min)*k/N", false,
           "a temperature in [0, 1e6]", &O::tMin),
      real("t_max", "t_max", "--t-max", "the hottest temperature (k = N)",
           false, "a temperature in [0, 1e6]", &O::tMax),
      real("sampler_config.entropy_bound", "entropy_bound", "--entropy-bound",
           "accept positions while their entropy sum fits", true,
           "a positive number up to 1e6", &O::entropyBound),
      integer("stability_threshold", "--stability-threshold",
              "steps the argmax must stay unchanged to stop", true, 0,
              kMaxSteps, "an integer in [0, 65536]", &O::stabilityThreshold),
      real("confidence_threshold", "confidence_threshold",
           "--confidence-threshold",
           "mean entropy under which a canvas may stop", true,
           "a positive number up to 1e6", &O::confidenceThreshold),
      {"eos_token_id", "eos", "--eos-ids", "\"IDS\"",
       "ids that end generation (pad follows them)", false, K::TokenIds, 0,
       kMaxId, false, "an integer in [0, 2147483647]", nullptr, nullptr,
       nullptr, &O::eosIds},
      {"pad_token_id", "pad", "--pad-id", "N", "the id written after eos",
       false, K::TokenId, 0, kMaxId, false, "an integer in [0, 2147483647]",
       nullptr, nullptr, &O::padId, nullptr},
  };
  return fields;
}

const GenerationField *generationFieldByFlag(std::string_view flag) {
  for (const GenerationField &f : generationFields())
    if (flag == f.flag)
      return &f;
  return nullptr;
}

const GenerationField *generationFieldByName(std::string_view name) {
  for (const GenerationField &f : generationFields())
    if (name == f.name)
      return &f;
  return nullptr;
}

bool GenerationOverrides::has(const GenerationField &field) const {
  return std::find(set.begin(), set.end(), &field) != set.end();
}

void GenerationOverrides::take(const GenerationField &f,
                               const GenerationOptions &from) {
  if (f.integer)
    values.*f.integer = from.*f.integer;
  if (f.real)
    values.*f.real = from.*f.real;
  if (f.tokenId)
    values.*f.tokenId = from.*f.tokenId;
  if (f.tokenIds)
    values.*f.tokenIds = from.*f.tokenIds;
  if (!has(f))
    set.push_back(&f);
}

void GenerationOverrides::applyTo(GenerationOptions &options) const {
  GenerationOverrides copy;
  copy.values = options;
  for (const GenerationField *f : set)
    copy.take(*f, values);
  options = std::move(copy.values);
}

void GenerationOverrides::merge(const GenerationOverrides &later) {
  for (const GenerationField *f : later.set)
    take(*f, later.values);
}

namespace {

/// "the number 3", "the string \"x\"", ...: what a value was, for messages.
std::string describe(const json &v) {
  if (v.is_number())
    return "the number " + showJson(v);
  if (v.is_string())
    return "the string " + showJson(v);
  if (v.is_boolean())
    return v.get<bool>() ? "true" : "false";
  if (v.is_array())
    return "an array";
  if (v.is_object())
    return "an object";
  return "null";
}

/// Sets an integer or token-id field of `value` to `n` (checked already).
void storeInteger(const GenerationField &f, int64_t n,
                  GenerationOptions &value) {
  if (f.integer)
    value.*f.integer = n;
  else
    value.*f.tokenId = static_cast<int32_t>(n);
}

bool inRange(const GenerationField &f, double v) {
  return (f.minExcluded ? v > f.min : v >= f.min) && v <= f.max;
}

/// An integer in the field's range, or an error.
Status readInteger(const GenerationField &f, const json &v,
                   const std::string &where, int64_t &out) {
  bool ok = v.is_number_integer();
  if (ok && v.is_number_unsigned())
    ok = v.get<uint64_t>() <= static_cast<uint64_t>(f.max);
  if (ok)
    ok = inRange(f, static_cast<double>(v.get<int64_t>()));
  if (!ok)
    return Error{where + ": expected " + f.rule + ", got " + describe(v)};
  out = v.get<int64_t>();
  return {};
}

} // namespace

Status readGenerationValue(const GenerationField &f, const json &v,
                           const std::string &where, GenerationOverrides &out) {
  if (v.is_null())
    return {};
  GenerationOptions value;
  int64_t n = 0;
  switch (f.kind) {
  case K::Integer:
  case K::TokenId:
    if (Status s = readInteger(f, v, where, n); !s)
      return s;
    storeInteger(f, n, value);
    break;
  case K::Real:
    if (!v.is_number())
      return Error{where + ": expected a number, got " + describe(v)};
    if (!inRange(f, v.get<double>()))
      return Error{where + ": expected " + f.rule + ", got " + describe(v)};
    value.*f.real = v.get<double>();
    break;
  case K::TokenIds: {
    // transformers takes one id or a list of them.
    if (v.is_array() && v.empty())
      return Error{where + ": expected an integer or a non-empty list of "
                           "integers, got an empty array"};
    json ids = v.is_array() ? v : json::array({v});
    std::vector<int32_t> &list = value.*f.tokenIds;
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string at =
          v.is_array() ? where + "[" + std::to_string(i) + "]" : where;
      if (Status s = readInteger(f, ids[i], at, n); !s)
        return s;
      list.push_back(static_cast<int32_t>(n));
    }
    break;
  }
  }
  out.take(f, value);
  return {};
}

Status readGenerationJson(const json &doc, const std::string &path,
                          GenerationOverrides &out) {
  if (!doc.is_object())
    return Error{path + ": expected a JSON object, got " + describe(doc)};
  GenerationOverrides read;
  // The one sampler this runtime implements; its options are in the table.
  if (auto s = doc.find("sampler_config"); s != doc.end() && !s->is_null()) {
    if (!s->is_object())
      return Error{path + ": sampler_config: expected an object, got " +
                   describe(*s)};
    if (auto cls = s->find("_cls_name"); cls != s->end() && !cls->is_null() &&
                                         *cls != "EntropyBoundSamplerConfig")
      return Error{path +
                   ": sampler_config._cls_name: expected "
                   "\"EntropyBoundSamplerConfig\" (the only sampler), "
                   "got " +
                   describe(*cls)};
  }
  for (const GenerationField &f : generationFields()) {
    // A dotted key names a member of an object (absent or null: unset).
    std::string_view key = f.key;
    const json *at = &doc;
    for (size_t dot; at && (dot = key.find('.')) != std::string_view::npos;
         key.remove_prefix(dot + 1)) {
      auto it = at->find(std::string(key.substr(0, dot)));
      at = it != at->end() && it->is_object() ? &*it : nullptr;
    }
    if (!at)
      continue;
    auto it = at->find(std::string(key));
    if (it == at->end())
      continue;
    if (Status s = readGenerationValue(f, *it, path + ": " + f.key, read); !s)
      return s;
  }
  out.merge(read);
  return {};
}

Status readModuleGeneration(const json &section, const std::string &where,
                            GenerationOverrides &out) {
  if (!section.is_object())
    return Error{where + ": expected an object of generation options, got " +
                 describe(section)};
  GenerationOverrides read;
  for (const GenerationField &f : generationFields())
    if (auto it = section.find(f.name); it != section.end())
      if (Status s = readGenerationValue(f, *it, where + "." + f.name, read);
          !s)
        return s;
  out.merge(read);
  return {};
}

Status readGenerationConfig(std::string_view text, const std::string &path,
                            GenerationOverrides &out) {
  std::string problem;
  auto doc = parseStrictJson(text, 16, "key", problem);
  if (!doc)
    return Error{path + ": " + problem};
  return readGenerationJson(*doc, path, out);
}

namespace {

/// A decimal integer with nothing after it.
bool decimalInteger(std::string_view text, long long &out) {
  if (text.empty() ||
      text.find_first_not_of("+-0123456789") != std::string_view::npos)
    return false;
  std::string s(text);
  errno = 0;
  char *end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return !errno && !*end;
}

/// A finite decimal number ("0.5", ".5", "1e-3"; not "0x1p-1", inf or nan,
/// which strtod takes too).
bool decimalNumber(std::string_view text, double &out) {
  if (text.empty() ||
      text.find_first_not_of("0123456789+-.eE") != std::string_view::npos)
    return false;
  std::string s(text);
  errno = 0;
  char *end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !errno && !*end && std::isfinite(out);
}

} // namespace

Status parseGenerationFlag(const GenerationField &f, std::string_view text,
                           GenerationOverrides &out) {
  std::string flag = f.flag, quoted = "'" + std::string(text) + "'";
  GenerationOptions value;
  long long n = 0;
  double x = 0;
  switch (f.kind) {
  case K::Integer:
  case K::TokenId:
    if (!decimalInteger(text, n) || !inRange(f, static_cast<double>(n)))
      return Error{flag + ": " + quoted + " is not " + f.rule};
    storeInteger(f, n, value);
    break;
  case K::Real:
    if (!decimalNumber(text, x))
      return Error{flag + ": " + quoted + " is not a finite decimal number"};
    if (!inRange(f, x))
      return Error{flag + ": " + quoted + " is not " + f.rule};
    value.*f.real = x;
    break;
  case K::TokenIds: {
    std::vector<int32_t> &ids = value.*f.tokenIds;
    std::string token;
    for (size_t i = 0; i <= text.size(); ++i) {
      char c = i < text.size() ? text[i] : ' ';
      if (c != ' ' && c != ',' && c != '\t' && c != '\n') {
        token += c;
        continue;
      }
      if (token.empty())
        continue;
      if (!decimalInteger(token, n) || !inRange(f, static_cast<double>(n)))
        return Error{flag + ": " + quoted + " is not a list of token ids"};
      ids.push_back(static_cast<int32_t>(n));
      token.clear();
    }
    if (ids.empty())
      return Error{flag + ": " + quoted + " is not a list of token ids"};
    break;
  }
  }
  out.take(f, value);
  return {};
}

Status GenerationOptions::mergeGenerationConfig(std::string_view text,
                                                const std::string &path) {
  GenerationOverrides read;
  if (Status s = readGenerationConfig(text, path, read); !s)
    return s;
  read.applyTo(*this);
  return {};
}

Status GenerationOptions::validate() const {
  // Each field in its range, as every reader checks it (an embedder may set
  // fields directly).
  for (const GenerationField &f : generationFields()) {
    auto bad = [&](const std::string &value) {
      // The flat name where it is the option's (entropy_bound), the file's
      // key where the module abbreviates it (eos_token_id).
      const char *label = f.tokenId || f.tokenIds ? f.key : f.name;
      return Error{std::string(label) + " must be " + f.rule + ", got " +
                   value};
    };
    if (f.integer && !inRange(f, static_cast<double>(this->*f.integer)))
      return bad(std::to_string(this->*f.integer));
    if (f.real && !(std::isfinite(this->*f.real) && inRange(f, this->*f.real)))
      return bad(std::to_string(this->*f.real));
    if (f.tokenId && this->*f.tokenId < 0)
      return bad(std::to_string(this->*f.tokenId));
    if (f.tokenIds)
      for (int32_t id : this->*f.tokenIds)
        if (id < 0)
          return bad(std::to_string(id));
  }
  if (!(tMin > 0) || !(tMax > 0))
    return Error{"t_min and t_max must be positive temperatures"};
  // temperature() computes in float32: below its normal range t_min rounds
  // towards 0, and a step would divide the logits by that.
  if (!(static_cast<float>(tMin) >= FLT_MIN) ||
      !std::isfinite(static_cast<float>(tMax)))
    return Error{"t_min and t_max must be float32 temperatures, in [1.2e-38, "
                 "3.4e38]"};
  if (!(tMax > tMin))
    return Error{"t_max must be above t_min, got t_min " +
                 std::to_string(tMin) + " and t_max " + std::to_string(tMax)};
  return {};
}

} // namespace dgc::runtime
