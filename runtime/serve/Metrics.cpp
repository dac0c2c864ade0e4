//===- Metrics.cpp - dgc-serve's Prometheus metrics -----------------------===//

#include "Metrics.h"

#include <cstdio>

namespace dgc::serve {

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
} // namespace

Histogram::Histogram(std::vector<double> b)
    : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds.size() && v > bounds[i])
    ++i;
  ++counts[i];
  sum += v;
  ++count;
}

std::string Histogram::text(const std::string &name) const {
  std::string out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    out += name + "_bucket{le=\"" +
           (i < bounds.size() ? number(bounds[i]) : "+Inf") + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum) + "\n";
  out += name + "_count " + std::to_string(count) + "\n";
  return out;
}

Metrics::Metrics()
    : stepSeconds(
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      requestSeconds(
          {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}) {
  for (const char *o :
       {"completed", "cancelled", "failed", "bad_request", "rejected"})
    requests[o] = 0;
}

void Metrics::request(const std::string &outcome) {
  std::lock_guard<std::mutex> lock(mutex);
  ++requests[outcome];
}

void Metrics::finished(int64_t prompt, int64_t completion, int64_t passes,
                       double seconds) {
  std::lock_guard<std::mutex> lock(mutex);
  promptTokens += prompt;
  completionTokens += completion;
  decoderPasses += passes;
  requestSeconds.observe(seconds);
}

void Metrics::step(double seconds) {
  std::lock_guard<std::mutex> lock(mutex);
  ++steps;
  stepSeconds.observe(seconds);
}

std::string Metrics::text(int64_t queued, int64_t running,
                          const std::vector<PoolPages> &pages) const {
  std::lock_guard<std::mutex> lock(mutex);
  std::string out;
  auto head = [&](const char *name, const char *type, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name +
           " " + type + "\n";
  };
  head("dgc_requests_total", "counter", "Requests by outcome.");
  for (auto &[outcome, n] : requests)
    out += "dgc_requests_total{outcome=\"" + outcome + "\"} " +
           std::to_string(n) + "\n";
  head("dgc_prompt_tokens_total", "counter",
       "Prompt tokens of answered requests.");
  out += "dgc_prompt_tokens_total " + std::to_string(promptTokens) + "\n";
  head("dgc_completion_tokens_total", "counter",
       "Tokens generated and returned.");
  out +=
      "dgc_completion_tokens_total " + std::to_string(completionTokens) + "\n";
  head("dgc_denoise_steps_total", "counter",
       "Denoise steps, counted per request (a batched pass counts once per "
       "request in it).");
  out += "dgc_denoise_steps_total " + std::to_string(steps) + "\n";
  head("dgc_tokens_per_forward", "gauge",
       "Returned tokens per decoder pass, over every finished request.");
  out += "dgc_tokens_per_forward " +
         number(decoderPasses ? double(completionTokens) / double(decoderPasses)
                              : 0.0) +
         "\n";
  head("dgc_queue_depth", "gauge", "Requests waiting to join the batch.");
  out += "dgc_queue_depth " + std::to_string(queued) + "\n";
  head("dgc_running_requests", "gauge", "Requests in the batch.");
  out += "dgc_running_requests " + std::to_string(running) + "\n";
  head("dgc_kv_pages_in_use", "gauge", "KV-cache pages handed out, per pool.");
  for (const PoolPages &p : pages)
    out += "dgc_kv_pages_in_use{pool=\"" + p.pool + "\"} " +
           std::to_string(p.used) + "\n";
  head("dgc_kv_pages_reserved", "gauge",
       "KV-cache pages admission holds for running requests, per pool.");
  for (const PoolPages &p : pages)
    out += "dgc_kv_pages_reserved{pool=\"" + p.pool + "\"} " +
           std::to_string(p.reserved) + "\n";
  head("dgc_kv_pages_total", "gauge", "KV-cache pages, per pool.");
  for (const PoolPages &p : pages)
    out += "dgc_kv_pages_total{pool=\"" + p.pool + "\"} " +
           std::to_string(p.total) + "\n";
  head("dgc_step_seconds", "histogram",
       "Time between a request's consecutive denoise steps.");
  out += stepSeconds.text("dgc_step_seconds");
  head("dgc_request_seconds", "histogram",
       "Time from a request's arrival to its last token.");
  out += requestSeconds.text("dgc_request_seconds");
  return out;
}

} // namespace dgc::serve
