//===- Options.cpp - dgc-run's command line -------------------------------===//

#include "Options.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

namespace dgc::run {

const char *const kUsageHead =
    R"(dgc-run: generate text with a compiled DiffusionGemma module

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
)";

/// After the generation flags, which generationFields() lists.
const char *const kUsageTail =
    R"(  --draw exact|top64         draw from the full softmax (default) or from the
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

} // namespace

std::string usage() {
  std::string text = kUsageHead;
  for (const runtime::GenerationField &f : runtime::generationFields()) {
    std::string flag = "  " + std::string(f.flag) + " " + f.metavar;
    flag.resize(std::max<size_t>(flag.size() + 1, 29), ' ');
    text += flag + f.help + "\n";
  }
  return text + kUsageTail;
}

std::optional<Options> parseOptions(int argc, char **argv, std::string &error,
                                    bool &help) {
  Options o;
  help = false;
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
    } else if (const auto *g = runtime::generationFieldByFlag(arg)) {
      // Typed and range-checked here, by the table every reader shares.
      ok = next();
      if (ok)
        if (runtime::Status s =
                runtime::parseGenerationFlag(*g, value, o.generation);
            !s) {
          error = s.error();
          ok = false;
        }
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
