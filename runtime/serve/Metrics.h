//===- Metrics.h - dgc-serve's Prometheus metrics ---------------*- C++ -*-===//
//
// Counters, gauges and histograms, written in Prometheus' text format for
// GET /metrics. Thread-safe: handlers and the generation thread update them.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_METRICS_H
#define DGC_SERVE_METRICS_H

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dgc::serve {

class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  /// Its lines (_bucket, _sum, _count) for metric `name`.
  std::string text(const std::string &name) const;

private:
  std::vector<double> bounds;
  std::vector<uint64_t> counts; // per bucket, not cumulative
  double sum = 0;
  uint64_t count = 0;
};

struct PoolPages {
  std::string pool;
  int64_t used = 0, reserved = 0, total = 0;
};

class Metrics {
public:
  Metrics();
  /// outcome: completed, cancelled, failed, bad_request, rejected.
  void request(const std::string &outcome);
  void finished(int64_t promptTokens, int64_t completionTokens,
                int64_t decoderPasses, double seconds);
  void step(double seconds);
  /// Prometheus text; the gauges are passed in as they are now.
  std::string text(int64_t queued, int64_t running,
                   const std::vector<PoolPages> &pages) const;

private:
  mutable std::mutex mutex;
  std::map<std::string, uint64_t> requests;
  uint64_t promptTokens = 0, completionTokens = 0, steps = 0, decoderPasses = 0;
  Histogram stepSeconds, requestSeconds;
};

} // namespace dgc::serve

#endif // DGC_SERVE_METRICS_H
