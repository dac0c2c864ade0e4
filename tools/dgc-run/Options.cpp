//===- Options.cpp - dgc-run's command line -------------------------------===//

#include "Options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

namespace dgc::run {

const char *const kUsage = R"(dgc-run: generate text with a compiled DiffusionGemma module

usage: dgc-run MODEL.dgm --weights DIR (--prompt TEXT | --prompt-ids "1 2 3" |
                                        --batch-file FILE) [options]

MODEL.dgm is what `dgc compile` wrote; DIR is the Hugging Face checkpoint
(model.safetensors or a sharded index, and for text prompts tokenizer.json).

Prompts:
  --prompt TEXT          text, tokenised with DIR/tokenizer.json and wrapped in
                         the Gemma chat template as one user turn
  --no-chat-template     tokenise --prompt as is (with <bos> first)
  --image FILE           a PNG or JPEG in the prompt (repeatable): with
                         --prompt, the images come before the text; with
                         --prompt-ids, each image token id stands for one
  --prompt-ids "IDS"     token ids, separated by spaces or commas
  --batch-file FILE      one request per line, as JSON: {"prompt": TEXT} or
                         {"prompt_ids": [IDS]}, optionally "images": [FILES],
                         "seed" and any
                         generation_config.json key ("max_new_tokens", ...)

Generation (defaults: the module's compiled generation config, then
DIR/generation_config.json; each flag overrides both):
  --max-new-tokens N         tokens to generate, in whole canvases
  --max-denoising-steps N    steps per canvas at most (N of the schedule)
  --t-min X, --t-max X       the temperature schedule t_min + (t_max-t_min)*k/N
  --entropy-bound X          accept positions while their entropy sum fits
  --stability-threshold N    steps the argmax must stay unchanged to stop
  --confidence-threshold X   mean entropy under which a canvas may stop
  --eos-ids "IDS"            ids that end generation (pad follows them)
  --pad-id N                 the id written after eos
  --draw exact|top64         draw from the full softmax (default) or from the
                             renormalised top 64 (an approximation)

Running:
  --seed S          seed of request 0; request i uses S + i (default 0: a
                    run is reproducible unless a seed is given)
  --device D        host (the default), cuda or cuda:N (GPU N; a module
                    compiled with --target cuda or all, an NVIDIA driver and
                    GPU)
  --max-batch N     requests whose canvases share a decoder pass (default 8)
  --threads N       threads of the host code's parallel loops (default: one
                    per core; results do not depend on it)
  --page-size N     KV-cache positions per page (default 16)
  --cache-pages N   pages per KV-cache pool (default: enough for max-batch
                    of the requests given)

Output:
  --json            one JSON document on stdout at the end
  --show-steps      a line per denoise step on stderr (step, temperature,
                    accepted positions, mean entropy, the draft)
  --quiet           no progress and no statistics on stderr
  --check-finite    debugging: check every output of every graph call and
                    stop at the first that holds a NaN or an infinity,
                    naming the graph, the output and the element (slower)
  --version         dgc's version and commit
  --help            this text

Committed canvases are printed as they land; a progress line on a terminal
shows each step; statistics end the run (canvases, decoder passes, tokens
per forward, tokens/s). Exit status: 0 when every request finished, 1 when
one failed, 2 for a bad command line.
)";

namespace {

bool parseInt(const std::string &text, int64_t lo, int64_t hi, int64_t &out) {
  if (text.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

/// A finite decimal number ("0.5", ".5", "1e-3"; not "0x1p-1", inf or nan,
/// which strtod takes too), written anew as JSON text.
bool finiteNumber(const std::string &text, std::string &json) {
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") !=
                          std::string::npos)
    return false;
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno || *end || !std::isfinite(v))
    return false;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  json = buffer;
  return true;
}

/// Turns "1 2,3" into a JSON array text, or returns false.
bool idList(const std::string &text, std::string &json) {
  json = "[";
  std::string token;
  bool any = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ' ';
    if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
      if (token.empty())
        continue;
      int64_t v;
      if (!parseInt(token, 0, INT32_MAX, v))
        return false;
      json += (any ? "," : "") + std::to_string(v);
      any = true;
      token.clear();
    } else {
      token += c;
    }
  }
  json += "]";
  return any;
}

} // namespace

std::optional<Options> parseOptions(int argc, char **argv, std::string &error,
                                    bool &help) {
  Options o;
  help = false;
  // Generation flags and the generation_config.json key each one sets.
  const std::map<std::string, std::pair<const char *, char>> generation = {
      {"--max-new-tokens", {"max_new_tokens", 'i'}},
      {"--max-denoising-steps", {"max_denoising_steps", 'i'}},
      {"--t-min", {"t_min", 'f'}},
      {"--t-max", {"t_max", 'f'}},
      {"--entropy-bound", {"entropy_bound", 'f'}},
      {"--stability-threshold", {"stability_threshold", 'i'}},
      {"--confidence-threshold", {"confidence_threshold", 'f'}},
      {"--eos-ids", {"eos_token_id", 'l'}},
      {"--pad-id", {"pad_token_id", 'i'}},
  };
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inlineValue = true;
      }
    }
    auto flag = [&](bool &field) {
      if (inlineValue) {
        error = arg + " takes no value";
        return false;
      }
      field = true;
      return true;
    };
    auto next = [&]() -> bool {
      if (inlineValue)
        return true;
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      value = argv[++i];
      return true;
    };
    auto integer = [&](int64_t lo, int64_t hi, int64_t &field) {
      if (!next())
        return false;
      if (!parseInt(value, lo, hi, field)) {
        error = arg + ": '" + value + "' is not an integer in [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]";
        return false;
      }
      return true;
    };

    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      help = true;
      return std::nullopt;
    } else if (arg == "--weights") {
      ok = next() && !(o.weights = value).empty();
    } else if (arg == "--prompt") {
      ok = next();
      o.prompt = value;
    } else if (arg == "--prompt-ids") {
      ok = next();
      o.promptIds = value;
    } else if (arg == "--batch-file") {
      ok = next();
      o.batchFile = value;
    } else if (arg == "--image") {
      ok = next() && !value.empty();
      o.images.push_back(value);
    } else if (arg == "--no-chat-template") {
      bool off = false;
      ok = flag(off);
      o.chatTemplate = !off;
    } else if (arg == "--draw") {
      ok = next();
      if (ok && value != "exact" && value != "top64") {
        error = "--draw: expected exact or top64, got '" + value + "'";
        ok = false;
      }
      o.draw = value;
    } else if (arg == "--seed") {
      int64_t seed;
      ok = integer(0, INT64_MAX, seed);
      o.seed = static_cast<uint64_t>(seed);
    } else if (arg == "--device") {
      ok = next();
      o.device = value;
    } else if (arg == "--max-batch") {
      ok = integer(1, 4096, o.maxBatch);
    } else if (arg == "--threads") {
      ok = integer(1, 1024, o.threads);
    } else if (arg == "--page-size") {
      ok = integer(1, 1 << 16, o.pageSize);
    } else if (arg == "--cache-pages") {
      int64_t pages;
      ok = integer(1, INT32_MAX, pages);
      o.cachePages = pages;
    } else if (arg == "--json") {
      ok = flag(o.json);
    } else if (arg == "--show-steps") {
      ok = flag(o.showSteps);
    } else if (arg == "--quiet") {
      ok = flag(o.quiet);
    } else if (arg == "--check-finite") {
      ok = flag(o.checkFinite);
    } else if (auto g = generation.find(arg); g != generation.end()) {
      ok = next();
      // The value goes on as JSON text: written anew here, so that the
      // runtime's reader sees what was checked.
      std::string json;
      char kind = g->second.second;
      int64_t n;
      if (ok && kind == 'i' && !parseInt(value, 0, INT32_MAX, n))
        error = arg + ": '" + value + "' is not a non-negative integer";
      else if (ok && kind == 'i')
        json = std::to_string(n);
      else if (ok && kind == 'f' && !finiteNumber(value, json))
        error = arg + ": '" + value + "' is not a finite decimal number";
      else if (ok && kind == 'l' && !idList(value, json))
        error = arg + ": '" + value + "' is not a list of token ids";
      ok = ok && error.empty();
      if (ok)
        o.generation.emplace_back(g->second.first, json);
    } else if (arg.rfind("-", 0) == 0 && arg != "-") {
      error = "unknown option '" + arg + "' (see dgc-run --help)";
      ok = false;
    } else if (o.module.empty()) {
      o.module = arg;
    } else {
      error = "unexpected argument '" + arg + "': one MODEL.dgm only";
      ok = false;
    }
    if (!ok) {
      if (error.empty())
        error = arg + " needs a non-empty value";
      return std::nullopt;
    }
    // A second value would silently replace the first (--image adds one).
    if (arg.rfind("--", 0) == 0 && arg != "--image" &&
        !seen.insert(arg).second) {
      error = arg + " given twice";
      return std::nullopt;
    }
  }
  if (o.module.empty())
    error = "expected MODEL.dgm (see dgc-run --help)";
  else if (o.weights.empty())
    error = "expected --weights DIR: the checkpoint to run";
  else if (!!o.prompt + !!o.promptIds + !!o.batchFile != 1)
    error = "expected exactly one of --prompt, --prompt-ids, --batch-file";
  else if (o.batchFile && !o.images.empty())
    error = "--image goes with --prompt or --prompt-ids; a batch file names "
            "its images per line (\"images\": [...])";
  if (!error.empty())
    return std::nullopt;
  return o;
}

} // namespace dgc::run
