//===- dgc-kernel-check.cpp - Each kernel of a module against another ----===//
//
//   dgc-kernel-check KERNELS.dgm [--device cuda] [--compare host] [--runs R]
//                    [--seed S] [--only NAME[,NAME...]] [--out DIR]
//
// Runs every graph of a module whose operands are all weights (such as the
// one bench/fused_kernels.py writes, one graph per fused op at a model's
// shapes) on random values: the same seed gives every device the same operands.
// Each graph is timed (the median of R calls after a warm-up, the compiled
// graph alone), and with --compare its outputs are checked against another
// device's, the way ggml's test-backend-ops checks backends. --out writes
// DIR/GRAPH.safetensors with the operands and this device's outputs
// ("out.NAME"), for a peer such as PyTorch to run the same inputs.
//
// One JSON line per graph; the exit status is 1 when a comparison fails.
//
//===----------------------------------------------------------------------===//

#include "SafetensorsWriter.h"

#include "dgc/runtime/CompiledModule.h"
#include "tools/BenchArguments.h"
#include "tools/RuntimeToolMain.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string>

using namespace dgc::runtime;

namespace {

struct Options {
  std::string module, out;
  Device device = Device::Host;
  std::optional<Device> compare;
  std::set<std::string> only;
  int runs = 5;
  uint64_t seed = 1;
  float scale = 1.0f; // operands uniform in [-scale, scale]
};

const char kUsage[] =
    "usage: dgc-kernel-check KERNELS.dgm [--device host|cuda]\n"
    "                        [--compare host|cuda] [--runs R] [--seed S]\n"
    "                        [--scale X] [--only NAME[,NAME...]] [--out DIR]\n"
    "  Runs each graph of a module whose operands are all weights (see\n"
    "  bench/fused_kernels.py) on random operands, uniform in [-X, X] from "
    "--seed\n"
    "  (X: --scale, default 1; a random-weight step's are 0.03).\n"
    "  --device   where to run and time the graphs (default host)\n"
    "  --compare  also run them there and compare the outputs: floats\n"
    "             within 2% of the output's largest magnitude, at most 1% of\n"
    "             integer outputs (argmax, top-k ids) different (near ties)\n"
    "  --runs R   timed calls after a warm-up; the median is printed\n"
    "             (default 5)\n"
    "  --only     these graphs only, comma separated\n"
    "  --out DIR  write DIR/GRAPH.safetensors: the operands, and this\n"
    "             device's outputs as out.NAME\n";

constexpr double kFloatTolerance = 0.02;
constexpr double kIntegerMismatches = 0.01;

std::string parseOptions(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--help" || arg == "-h")
      return "help";
    if (arg == "--device" || arg == "--compare") {
      Result<Device> d = parseDevice(value());
      if (!d)
        return arg + ": " + d.error();
      (arg == "--device" ? o.device : o.compare.emplace()) = *d;
    } else if (arg == "--runs") {
      // As dgc-bench's: a run takes time.
      const char *v = i + 1 < argc ? argv[++i] : nullptr;
      int64_t n;
      if (!v || !dgc::bench::parseDecimal<int64_t>(v, 1, 100000, n))
        return dgc::bench::numberError<int64_t>(arg, 1, 100000, v);
      o.runs = static_cast<int>(n);
    } else if (arg == "--seed") {
      const char *v = i + 1 < argc ? argv[++i] : nullptr;
      uint64_t max = UINT64_MAX;
      if (!v || !dgc::bench::parseDecimal<uint64_t>(v, 0, max, o.seed))
        return dgc::bench::numberError<uint64_t>(arg, 0, max, v);
    } else if (arg == "--scale") {
      const char *v = i + 1 < argc ? argv[++i] : nullptr;
      std::string_view text = v ? v : "";
      const char *end = text.data() + text.size();
      float scale = 0;
      auto [stop, error] = std::from_chars(text.data(), end, scale);
      if (!v || error != std::errc() || stop != end ||
          !(scale > 0 && scale <= 1000))
        return "--scale needs a number in (0, 1000]" +
               (v ? " (got '" + std::string(v) + "')" : std::string());
      o.scale = scale;
    } else if (arg == "--only") {
      std::stringstream list(value());
      for (std::string name; std::getline(list, name, ',');)
        if (!name.empty())
          o.only.insert(name);
      if (o.only.empty())
        return "--only needs graph names, comma separated";
    } else if (arg == "--out") {
      o.out = value();
      if (o.out.empty())
        return "--out needs a directory";
    } else if (std::string error =
                   dgc::bench::takeModuleArgument(arg, o.module);
               !error.empty()) {
      return error;
    }
  }
  if (o.module.empty())
    return "no KERNELS.dgm given";
  return "";
}

/// How far one device's output is from another's.
struct Difference {
  double maxError = 0, maxReference = 0; // floats
  int64_t mismatches = 0, count = 0;     // integers
  bool integer = false;

  bool acceptable() const {
    if (integer)
      return mismatches <= kIntegerMismatches * static_cast<double>(count);
    return maxError <= kFloatTolerance * std::max(maxReference, 1e-30);
  }
};

Difference compare(const CompiledModule::Output &got,
                   const CompiledModule::Output &want) {
  Difference d;
  d.integer = want.dtype == DType::I32;
  if (d.integer) {
    d.count = static_cast<int64_t>(want.bytes.size() / 4);
    for (int64_t i = 0; i < d.count; ++i)
      d.mismatches += got.i32()[i] != want.i32()[i];
    return d;
  }
  std::vector<float> a = got.floats(), b = want.floats();
  for (size_t i = 0; i < b.size(); ++i) {
    double error = std::fabs(double(a[i]) - double(b[i]));
    // A NaN anywhere fails, wherever it is.
    d.maxError = std::isnan(error) ? INFINITY : std::max(d.maxError, error);
    d.maxReference = std::max(d.maxReference, std::fabs(double(b[i])));
  }
  return d;
}

std::string json(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

/// The module's weights whose names start with `graph.`: its operands.
std::vector<const WeightSpec *> operandsOf(const Manifest &manifest,
                                           const std::string &graph) {
  std::vector<const WeightSpec *> operands;
  for (const WeightSpec &w : manifest.weights)
    if (w.name.rfind(graph + ".", 0) == 0)
      operands.push_back(&w);
  return operands;
}

Result<CompiledModule> loadWithOperands(const Options &o, Device device) {
  Result<CompiledModule> module = CompiledModule::load(o.module, device);
  if (!module)
    return module;
  for (const auto &[name, graph] : module->manifest().graphs)
    if (graph.inputs.size() != 1)
      return Error{o.module + ": graph '" + name + "' takes inputs besides " +
                   "the weights; dgc-kernel-check runs graphs whose " +
                   "operands are all weights (bench/fused_kernels.py)"};
  if (Status s = module->bindRandomWeights(o.seed, o.scale); !s)
    return Error{s.error()};
  return module;
}

using Outputs = std::vector<CompiledModule::Output>;

/// Calls `name` once to warm up and `runs` times more; the last outputs,
/// and the median time in milliseconds.
Result<Outputs> timedCalls(const CompiledModule &module,
                           const std::string &name, int runs,
                           double &medianMs) {
  std::vector<double> times;
  Result<Outputs> outputs = Error{"not run"};
  for (int i = 0; i <= runs; ++i) {
    double seconds = 0;
    outputs = module.call(name, {}, &seconds);
    if (!outputs)
      return outputs;
    if (i > 0) // the first call loads and warms up
      times.push_back(seconds * 1e3);
  }
  std::sort(times.begin(), times.end());
  medianMs = times[times.size() / 2];
  return outputs;
}

/// The JSON of each output's difference; `passed` is cleared by any that
/// is not acceptable.
std::string differencesJson(const GraphSpec &graph, const Outputs &got,
                            const Outputs &want, bool &passed) {
  std::string text = "{";
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    Difference d = compare(got[i], want[i]);
    passed &= d.acceptable();
    text += (i ? ", \"" : "\"") + graph.outputs[i].name + "\": ";
    text += d.integer
                ? "{\"mismatches\": " + std::to_string(d.mismatches) +
                      ", \"of\": " + std::to_string(d.count) + "}"
                : "{\"max_error\": " + json(d.maxError) +
                      ", \"max_magnitude\": " + json(d.maxReference) + "}";
  }
  return text + "}";
}

/// DIR/NAME.safetensors: the graph's operands, and its outputs as out.NAME.
Status writeGraphFile(const std::string &directory,
                      const CompiledModule &module, const std::string &name,
                      const GraphSpec &graph, const Outputs &outputs) {
  std::vector<SafetensorsEntry> entries;
  std::vector<std::vector<uint8_t>> operands; // the entries point into them
  for (const WeightSpec *w : operandsOf(module.manifest(), name)) {
    Result<std::vector<uint8_t>> bytes = module.readWeight(*w);
    if (!bytes)
      return Error{bytes.error()};
    operands.push_back(std::move(*bytes));
  }
  size_t next = 0;
  for (const WeightSpec *w : operandsOf(module.manifest(), name))
    entries.push_back({w->name.substr(name.size() + 1), w->dtype, w->shape,
                       operands[next++].data(),
                       static_cast<size_t>(w->byteSize())});
  for (size_t i = 0; i < graph.outputs.size(); ++i)
    entries.push_back({"out." + graph.outputs[i].name, outputs[i].dtype,
                       outputs[i].shape, outputs[i].bytes.data(),
                       outputs[i].bytes.size()});
  return writeSafetensors(directory + "/" + name + ".safetensors", entries);
}

int fail(const std::string &message) {
  std::fprintf(stderr, "dgc-kernel-check: %s\n", message.c_str());
  return 1;
}

int run(const Options &o) {
  Result<CompiledModule> module = loadWithOperands(o, o.device);
  if (!module)
    return fail(module.error());
  std::optional<CompiledModule> reference;
  if (o.compare) {
    Result<CompiledModule> r = loadWithOperands(o, *o.compare);
    if (!r)
      return fail(r.error());
    reference.emplace(std::move(*r));
  }
  for (const std::string &name : o.only)
    if (!module->manifest().graphs.count(name))
      return fail(o.module + " has no graph '" + name + "'");

  bool allPassed = true;
  for (const auto &[name, graph] : module->manifest().graphs) {
    if (!o.only.empty() && !o.only.count(name))
      continue;
    std::fprintf(stderr, "dgc-kernel-check: %s...\n", name.c_str());
    double ms = 0;
    Result<Outputs> outputs = timedCalls(*module, name, o.runs, ms);
    if (!outputs)
      return fail(name + ": " + outputs.error());
    int64_t operandBytes = 0;
    for (const WeightSpec *w : operandsOf(module->manifest(), name))
      operandBytes += w->byteSize();
    std::string line = "{\"kernel\": \"" + name + "\", \"device\": \"" +
                       deviceName(o.device) + "\", \"ms\": " + json(ms) +
                       ", \"operand_mb\": " + json(operandBytes / 1e6);
    if (reference) {
      Result<Outputs> want = reference->call(name, {});
      if (!want)
        return fail(name + " on " + deviceName(*o.compare) + ": " +
                    want.error());
      bool passed = true;
      line += std::string(", \"against\": \"") + deviceName(*o.compare) +
              "\", \"outputs\": " +
              differencesJson(graph, *outputs, *want, passed) +
              ", \"passed\": " + (passed ? "true" : "false");
      allPassed &= passed;
    }
    std::printf("%s}\n", line.c_str());
    std::fflush(stdout);
    if (!o.out.empty())
      if (Status s = writeGraphFile(o.out, *module, name, graph, *outputs); !s)
        return fail(s.error());
  }
  return allPassed ? 0 : 1;
}

} // namespace

static int runTool(int argc, char **argv) {
  Options options;
  std::string error = parseOptions(argc, argv, options);
  if (error == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!error.empty()) {
    std::fprintf(stderr, "dgc-kernel-check: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  return run(options);
}

int main(int argc, char **argv) {
  return dgc::runtimeToolMain("dgc-kernel-check", argc, argv, runTool);
}
