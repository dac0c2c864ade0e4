//===- Sampler.h - The block-diffusion reference sampler --------*- C++ -*-===//
//
// The decisions of DiffusionGemma's sampler (spec section 3), as plain
// functions over one canvas, so that each can be checked on its own against
// what transformers decides on the same inputs:
//
//   - temperature(k): t_min + (t_max - t_min) * k / N, k counting down from N;
//   - acceptByEntropy: sort positions by entropy, accept while the exclusive
//     prefix sum stays within the bound (at least one position);
//   - StopCriterion: the argmax equals the previous `stability` steps' and the
//     mean entropy is under the confidence threshold;
//   - finalizeCanvas: everything after the first eos id becomes pad.
//
// Random draws come from a RandomSource: SeededRandom for generation (one per
// request, so a request draws the same numbers alone or in a batch), or a
// recorded sequence in tests.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_RUNTIME_SAMPLER_H
#define DGC_RUNTIME_SAMPLER_H

#include "dgc/runtime/GenerationOptions.h"

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace dgc::runtime {

/// The temperature of step `k` (N, N-1, ..., 1), in float32 arithmetic as
/// transformers evaluates it.
float temperature(const GenerationOptions &options, int64_t k);

/// Which positions of a canvas are accepted given their entropies: ascending
/// entropy (ties: lower position first), accepted while
/// cumsum - current <= bound. At least one position is accepted.
std::vector<uint8_t> acceptByEntropy(const float *entropy, int64_t count,
                                     double bound);

/// The stable-and-confident stop of one request; reset per canvas.
class StopCriterion {
public:
  StopCriterion(int64_t stabilityThreshold, double confidenceThreshold)
      : stability(stabilityThreshold), confidence(confidenceThreshold) {}
  void reset() { history.clear(); }
  /// Records this step's argmax; true when the denoising of the canvas stops.
  bool update(const int32_t *argmax, const float *entropy, int64_t count);

private:
  int64_t stability;
  double confidence;
  std::deque<std::vector<int32_t>> history;
};

/// Pads everything after the first eos id of `canvas`; true when it held one.
bool finalizeCanvas(std::vector<int32_t> &canvas,
                    const std::vector<int32_t> &eosIds, int32_t padId);

/// Where random numbers come from.
class RandomSource {
public:
  virtual ~RandomSource();
  /// `count` ids drawn uniformly from [0, vocab).
  virtual void uniformIds(int64_t vocab, int32_t *out, int64_t count) = 0;
  /// Seeds of `count` positions' draws from softmax(x) over the whole
  /// vocabulary, which the decoder step makes (dg.categorical_sample).
  virtual void drawSeeds(int32_t *out, int64_t count) = 0;
  /// One token per position from softmax(x): `drawn`, what the step drew
  /// from drawSeeds' seeds (a recorded source replaces them).
  virtual void sampleExact(const int32_t *drawn, int64_t rows,
                           int32_t *out) = 0;
  /// One token per row from the renormalised top-k probabilities.
  virtual void sampleTopK(const float *probs, const int32_t *ids,
                          int64_t rows, int64_t k, int32_t *out) = 0;
};

/// std::mt19937_64 (whose output the standard fixes) with this file's own
/// mappings to integers and floats (the standard's distributions vary by
/// library): the same seed gives the same draws everywhere.
class SeededRandom final : public RandomSource {
public:
  explicit SeededRandom(uint64_t seed);
  void uniformIds(int64_t vocab, int32_t *out, int64_t count) override;
  void drawSeeds(int32_t *out, int64_t count) override;
  void sampleExact(const int32_t *drawn, int64_t rows, int32_t *out) override;
  void sampleTopK(const float *probs, const int32_t *ids, int64_t rows,
                  int64_t k, int32_t *out) override;
  /// A double in [0, 1) with 53 random bits.
  double uniform();

private:
  std::mt19937_64 engine;
};

/// Index of the category a uniform `u` in [0, 1) picks from the
/// unnormalised weights `w` by inverse CDF; zero weights are never picked.
int64_t pickByInverseCdf(const double *w, int64_t count, double total,
                         double u);

} // namespace dgc::runtime

#endif // DGC_RUNTIME_SAMPLER_H
