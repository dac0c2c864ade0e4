//===- Sampler.cpp - The block-diffusion reference sampler ----------------===//
//
// Each decision follows transformers' generation_diffusion_gemma.py down to
// its float32 arithmetic where that can move a decision at a boundary (the
// temperature, the acceptance prefix sums); test/runtime/SamplerTest.cpp
// checks them against decisions recorded from it.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dgc::runtime {

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
