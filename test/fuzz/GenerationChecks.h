//===- GenerationChecks.h - What merged generation options promise -*- C++ -*-//
//
// Shared by the fuzzers that read generation options (the one reader of
// GenerationOptions.cpp, from texts, flags or batch lines): the ranges it
// promises for each field, and what validate() promises the sampler
// (temperatures it can divide logits by).
//
//===----------------------------------------------------------------------===//

#ifndef DGC_TEST_FUZZ_GENERATIONCHECKS_H
#define DGC_TEST_FUZZ_GENERATIONCHECKS_H

#include "dgc/runtime/Sampler.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace dgc::fuzz {

inline bool sameOptions(const runtime::GenerationOptions &a,
                        const runtime::GenerationOptions &b) {
  // Bitwise for the doubles: -0.0 and 0.0 differ, and no field may be NaN.
  auto same = [](double x, double y) {
    return std::signbit(x) == std::signbit(y) && x == y;
  };
  return a.maxNewTokens == b.maxNewTokens &&
         a.maxDenoisingSteps == b.maxDenoisingSteps && same(a.tMin, b.tMin) &&
         same(a.tMax, b.tMax) && same(a.entropyBound, b.entropyBound) &&
         a.stabilityThreshold == b.stabilityThreshold &&
         same(a.confidenceThreshold, b.confidenceThreshold) &&
         a.eosIds == b.eosIds && a.padId == b.padId && a.draw == b.draw;
}

/// The per-key ranges of the reader, restated here rather than read from
/// its table. Relations between keys (t_max > t_min) wait for validate(): a
/// later source may still fix them.
inline bool inMergeRanges(const runtime::GenerationOptions &o) {
  auto real = [](double v) { return std::isfinite(v) && v >= 0 && v <= 1e6; };
  if (o.maxNewTokens < 1 || o.maxNewTokens > (1 << 24) ||
      o.maxDenoisingSteps < 1 || o.maxDenoisingSteps > (1 << 16) ||
      o.stabilityThreshold < 0 || o.stabilityThreshold > (1 << 16))
    return false;
  if (!real(o.tMin) || !real(o.tMax) || !real(o.entropyBound) ||
      !real(o.confidenceThreshold) || !(o.entropyBound > 0) ||
      !(o.confidenceThreshold > 0))
    return false;
  if (o.padId < 0)
    return false;
  for (int32_t id : o.eosIds)
    if (id < 0)
      return false;
  return true;
}

/// What merged options promise the sampler: in range, and what validate()
/// passes is a schedule whose every temperature divides logits.
inline void checkMerged(const runtime::GenerationOptions &o) {
  if (!inMergeRanges(o))
    std::abort();
  // What validate() passes reaches the sampler: every step's temperature,
  // computed in float32, must be one the logits can be divided by.
  if (runtime::Status v = o.validate(); !v) {
    if (v.error().empty())
      std::abort();
    return;
  }
  if (!(o.tMax > o.tMin))
    std::abort();
  float coldest = runtime::temperature(o, 1);
  float hottest = runtime::temperature(o, o.maxDenoisingSteps);
  if (!std::isnormal(coldest) || !(coldest > 0) || !std::isfinite(hottest) ||
      hottest < coldest)
    std::abort();
}

/// Applies `overrides` to `o` and checks the promises; applying them again
/// changes nothing more.
inline void applyAndCheck(runtime::GenerationOptions &o,
                          const runtime::GenerationOverrides &overrides) {
  overrides.applyTo(o);
  const runtime::GenerationOptions once = o;
  overrides.applyTo(o);
  if (!sameOptions(o, once))
    std::abort();
  checkMerged(o);
}

/// Merges `text` into `o` and checks the promises either way: a failure
/// names `path` and changes nothing; a success stays in range, and merging
/// the same text again changes nothing more.
inline void mergeAndCheck(runtime::GenerationOptions &o,
                          const std::string &text, const std::string &path) {
  const runtime::GenerationOptions before = o;
  runtime::Status s = o.mergeGenerationConfig(text, path);
  if (!s) {
    if (s.error().rfind(path + ": ", 0) != 0 || !sameOptions(o, before))
      std::abort();
    return;
  }
  const runtime::GenerationOptions once = o;
  if (!o.mergeGenerationConfig(text, path) || !sameOptions(o, once))
    std::abort();
  checkMerged(o);
}

} // namespace dgc::fuzz

#endif // DGC_TEST_FUZZ_GENERATIONCHECKS_H
