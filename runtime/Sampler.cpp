//===- Sampler.cpp - The block-diffusion reference sampler ----------------===//
//
// Each decision follows transformers' generation_diffusion_gemma.py down to
// its float32 arithmetic where that can move a decision at a boundary (the
// temperature, the acceptance prefix sums); test/runtime/SamplerTest.cpp
// checks them against decisions recorded from it.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Sampler.h"

#include "StrictJson.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>

namespace dgc::runtime {

namespace {

/// Reads an optional number; null means "not set", as transformers writes it.
Status readNumber(const nlohmann::json &root, const char *key, double lo,
                  double hi, bool integral, const std::string &path,
                  double &out, bool &found) {
  found = false;
  auto it = root.find(key);
  if (it == root.end() || it->is_null())
    return {};
  if (!it->is_number() || (integral && !it->is_number_integer()))
    return Error{path + ": " + key + ": expected " +
                 (integral ? "an integer" : "a number") + ", got " +
                 showJson(*it)};
  double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    return Error{path + ": " + key + ": " + showJson(*it) +
                 " is out of range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]"};
  out = v;
  found = true;
  return {};
}

} // namespace

Status GenerationOptions::mergeGenerationConfig(std::string_view text,
                                                const std::string &path) {
  std::string problem;
  auto parsed = parseStrictJson(text, 16, "key", problem);
  if (!parsed)
    return Error{path + ": " + problem};
  const nlohmann::json &root = *parsed;
  if (!root.is_object())
    return Error{path + ": expected a JSON object"};
  GenerationOptions merged = *this;
  double v;
  bool found;
  struct IntField {
    const char *key;
    int64_t *field;
    double lo, hi;
  };
  for (IntField f :
       {IntField{"max_new_tokens", &merged.maxNewTokens, 1, 1 << 24},
        IntField{"max_denoising_steps", &merged.maxDenoisingSteps, 1, 1 << 16},
        IntField{"stability_threshold", &merged.stabilityThreshold, 0,
                 1 << 16}}) {
    if (Status s = readNumber(root, f.key, f.lo, f.hi, true, path, v, found);
        !s)
      return s;
    if (found)
      *f.field = static_cast<int64_t>(v);
  }
  struct RealField {
    const char *key;
    double *field;
  };
  for (RealField f : {RealField{"t_min", &merged.tMin},
                      RealField{"t_max", &merged.tMax},
                      RealField{"confidence_threshold",
                                &merged.confidenceThreshold}}) {
    if (Status s = readNumber(root, f.key, 0, 1e6, false, path, v, found); !s)
      return s;
    if (found)
      *f.field = v;
  }
  if (auto it = root.find("sampler_config");
      it != root.end() && !it->is_null()) {
    if (!it->is_object())
      return Error{path + ": sampler_config: expected an object"};
    // As dgc compile's reader: the one sampler this runtime implements.
    if (auto cls = it->find("_cls_name");
        cls != it->end() && *cls != "EntropyBoundSamplerConfig")
      return Error{path + ": sampler_config._cls_name: expected "
                          "\"EntropyBoundSamplerConfig\" (the only sampler), "
                          "got " +
                   showJson(*cls)};
    if (Status s = readNumber(*it, "entropy_bound", 0, 1e6, false,
                              path + ": sampler_config", v, found);
        !s)
      return s;
    if (found)
      merged.entropyBound = v;
  }
  if (Status s =
          readNumber(root, "pad_token_id", 0, INT32_MAX, true, path, v, found);
      !s)
    return s;
  if (found)
    merged.padId = static_cast<int32_t>(v);
  if (auto it = root.find("eos_token_id"); it != root.end() && !it->is_null()) {
    nlohmann::json ids = it->is_array() ? *it : nlohmann::json::array({*it});
    if (ids.empty())
      return Error{path + ": eos_token_id: expected an integer or a "
                          "non-empty list of integers, got []"};
    merged.eosIds.clear();
    for (const auto &id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > INT32_MAX)
        return Error{path + ": eos_token_id: expected token ids, got " +
                     showJson(*it)};
      merged.eosIds.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  *this = std::move(merged);
  return {};
}

Status GenerationOptions::validate() const {
  if (maxNewTokens < 1)
    return Error{"max_new_tokens must be at least 1"};
  if (maxDenoisingSteps < 1)
    return Error{"max_denoising_steps must be at least 1"};
  if (!(tMin > 0) || !(tMax > 0) || !std::isfinite(tMin) ||
      !std::isfinite(tMax))
    return Error{"t_min and t_max must be positive temperatures"};
  // temperature() computes in float32: below its normal range t_min rounds
  // towards 0, and a step would divide the logits by that.
  if (!(static_cast<float>(tMin) >= FLT_MIN) ||
      !std::isfinite(static_cast<float>(tMax)))
    return Error{"t_min and t_max must be float32 temperatures, in [1.2e-38, "
                 "3.4e38]"};
  // As dgc compile's reader of generation_config.json requires.
  if (!(tMax > tMin))
    return Error{"t_max must be above t_min, got t_min " +
                 std::to_string(tMin) + " and t_max " + std::to_string(tMax)};
  if (!(entropyBound > 0) || !std::isfinite(entropyBound))
    return Error{"entropy_bound must be a number > 0"};
  if (stabilityThreshold < 0)
    return Error{"stability_threshold must be >= 0"};
  if (!(confidenceThreshold >= 0) || !std::isfinite(confidenceThreshold))
    return Error{"confidence_threshold must be a number >= 0"};
  return {};
}

float temperature(const GenerationOptions &options, int64_t k) {
  // transformers: t_min + (t_max - t_min) * (k / N) with k an int32 tensor:
  // the quotient is a float32 tensor and each Python scalar joins the float32
  // arithmetic as a float32.
  float fraction = static_cast<float>(k) /
                   static_cast<float>(options.maxDenoisingSteps);
  float span = static_cast<float>(options.tMax - options.tMin);
  return static_cast<float>(options.tMin) + span * fraction;
}

std::vector<uint8_t> acceptByEntropy(const float *entropy, int64_t count,
                                     double bound) {
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return entropy[a] < entropy[b];
  });
  // torch.cumsum over float32 accumulates in double on the CPU and rounds
  // each prefix to float32; the difference and the comparison with the
  // bound are float32.
  std::vector<uint8_t> accepted(count, 0);
  float limit = static_cast<float>(bound);
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    float current = entropy[order[i]];
    sum += current;
    float exclusive = static_cast<float>(sum) - current;
    if (exclusive <= limit || i == 0)
      accepted[order[i]] = 1;
  }
  return accepted;
}

bool StopCriterion::update(const int32_t *argmax, const float *entropy,
                           int64_t count) {
  bool stable = true;
  if (stability > 0) {
    stable = static_cast<int64_t>(history.size()) == stability;
    for (const auto &previous : history)
      stable = stable && std::equal(previous.begin(), previous.end(), argmax);
    history.emplace_back(argmax, argmax + count);
    if (static_cast<int64_t>(history.size()) > stability)
      history.pop_front();
  }
  double sum = 0;
  for (int64_t i = 0; i < count; ++i)
    sum += entropy[i];
  // torch.mean gives a float32 and the threshold joins it as a float32.
  bool confident = static_cast<float>(sum / static_cast<double>(count)) <
                   static_cast<float>(confidence);
  return stable && confident;
}

bool finalizeCanvas(std::vector<int32_t> &canvas,
                    const std::vector<int32_t> &eosIds, int32_t padId) {
  auto first = std::find_if(canvas.begin(), canvas.end(), [&](int32_t t) {
    return std::find(eosIds.begin(), eosIds.end(), t) != eosIds.end();
  });
  if (first == canvas.end())
    return false;
  std::fill(first + 1, canvas.end(), padId);
  return true;
}

RandomSource::~RandomSource() = default;

SeededRandom::SeededRandom(uint64_t seed) : engine(seed) {}

double SeededRandom::uniform() {
  return static_cast<double>(engine() >> 11) * 0x1.0p-53;
}

void SeededRandom::uniformIds(int64_t vocab, int32_t *out, int64_t count) {
  // Rejection keeps every id equally likely: 2^64 is not a multiple of V.
  uint64_t n = static_cast<uint64_t>(vocab);
  uint64_t reject = (0 - n) % n; // 2^64 mod n
  for (int64_t i = 0; i < count; ++i) {
    uint64_t r;
    do
      r = engine();
    while (r < reject);
    out[i] = static_cast<int32_t>(r % n);
  }
}

int64_t pickByInverseCdf(const double *w, int64_t count, double total,
                         double u) {
  double target = u * total, sum = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (w[i] <= 0)
      continue;
    sum += w[i];
    last = i;
    if (target < sum)
      return i;
  }
  return last; // u * total rounded up to the full sum
}

void SeededRandom::drawSeeds(int32_t *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<int32_t>(engine() >> 32);
}

void SeededRandom::sampleExact(const int32_t *drawn, int64_t rows,
                               int32_t *out) {
  std::copy(drawn, drawn + rows, out);
}

void SeededRandom::sampleTopK(const float *probs, const int32_t *ids,
                              int64_t rows, int64_t k, int32_t *out) {
  std::vector<double> w(k);
  for (int64_t r = 0; r < rows; ++r) {
    double total = 0;
    for (int64_t i = 0; i < k; ++i)
      total += w[i] = std::max(0.0, static_cast<double>(probs[r * k + i]));
    out[r] = ids[r * k + pickByInverseCdf(w.data(), k, total, uniform())];
  }
}

} // namespace dgc::runtime
