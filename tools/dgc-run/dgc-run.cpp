//===- dgc-run.cpp - Generate with a compiled DiffusionGemma module -------===//
//
// Loads MODEL.dgm and a checkpoint, builds requests from the command line or
// a batch file, and runs the runtime's Generator, streaming each committed
// canvas. See `dgc-run --help`.
//
//===----------------------------------------------------------------------===//

#include "Inputs.h"
#include "Options.h"

#include "dgc/runtime/Files.h"
#include "dgc/runtime/Generator.h"
#include "dgc/runtime/HostThreads.h"
#include "dgc/runtime/PromptImages.h"
#include "dgc/runtime/Tokenizer.h"
#include "tools/LoadedModel.h"
#include "tools/RuntimeToolMain.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <unistd.h>

using namespace dgc::runtime;
using nlohmann::json;

namespace {

int fail(const std::string &message, int status = 1) {
  std::cerr << "dgc-run: " << message << "\n";
  return status;
}

std::string shortIds(const std::vector<int32_t> &ids, size_t most = 12) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < most; ++i)
    out += (i ? " " : "") + std::to_string(ids[i]);
  if (ids.size() > most)
    out += " ...";
  return out;
}

/// Tokens up to and including the first eos; the pad after it is not text.
std::vector<int32_t> withoutTrailingPad(const std::vector<int32_t> &tokens,
                                        const GenerationOptions &o) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (std::find(o.eosIds.begin(), o.eosIds.end(), tokens[i]) !=
        o.eosIds.end())
      return {tokens.begin(), tokens.begin() + i + 1};
  return tokens;
}

} // namespace

static int runTool(int argc, char **argv) {
  std::string error;
  bool help = false;
  auto parsed = dgc::run::parseOptions(argc, argv, error, help);
  if (help) {
    std::cout << dgc::run::usage();
    return 0;
  }
  if (!parsed)
    return fail(error, 2);
  const dgc::run::Options &o = *parsed;
  auto device = parseDevice(o.device);
  if (!device)
    return fail("--device: " + device.error(), 2);

  setHostThreads(unsigned(o.threads));
  auto loaded = dgc::loadModel(o.module, o.weights, *device);
  if (!loaded)
    return fail(loaded.error());
  CompiledModule *module = loaded->module.get();
  const Manifest &manifest = module->manifest();
  std::optional<Tokenizer> &tokenizer = loaded->tokenizer;
  const std::string &tokenizerPath = loaded->tokenizerPath;

  // Generation defaults: compiled in, then the checkpoint's, then the flags.
  GenerationOptions defaults = loaded->defaults;
  o.generation.applyTo(defaults);
  if (o.draw)
    defaults.draw = *o.draw == "top64" ? DrawMode::TopK : DrawMode::Exact;

  auto inputs = dgc::run::readInputs(o);
  if (!inputs)
    return fail(inputs.error(), 2);

  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < inputs->size(); ++i) {
    dgc::run::Input &in = (*inputs)[i];
    GenerationRequest request;
    request.options = defaults;
    in.generation.applyTo(request.options);
    request.seed = in.seed.value_or(o.seed + i);
    // Images first: each becomes one image token of the prompt, expanded
    // below into boi, its soft tokens and eoi.
    std::vector<int64_t> softTokens;
    for (const std::string &file : in.images) {
      auto image = loadPromptImage(file, manifest);
      if (!image)
        return fail(in.where + ": " + image.error(), 2);
      if (!o.quiet && !o.json)
        std::cerr << "image " << file << ": resized to " << image->resizedWidth
                  << "x" << image->resizedHeight << ", " << image->numPatches
                  << " patches, " << image->softTokens << " soft tokens\n";
      softTokens.push_back(image->softTokens);
      request.images.push_back(std::move(*image));
    }
    if (in.text && !in.images.empty() && tokenizer) {
      std::string marks;
      for (size_t k = 0; k < in.images.size(); ++k)
        marks +=
            tokenizer
                ->tokenText(static_cast<int32_t>(manifest.vision->imageTokenId))
                .value_or("");
      in.text = marks + *in.text;
    }
    if (in.text) {
      if (!tokenizer)
        return fail(in.where + ": a text prompt needs " + tokenizerPath +
                        "; give token ids instead (--prompt-ids)",
                    2);
      if (o.chatTemplate) {
        auto ids = tokenizer->encodeChat(*in.text);
        if (!ids)
          return fail(in.where + ": " + ids.error(), 2);
        request.prompt = std::move(*ids);
      } else {
        if (auto bos = tokenizer->tokenId("<bos>"))
          request.prompt.push_back(*bos);
        std::vector<int32_t> ids = tokenizer->encode(*in.text);
        request.prompt.insert(request.prompt.end(), ids.begin(), ids.end());
      }
    } else {
      request.prompt = in.ids;
    }
    if (!in.images.empty()) {
      auto expanded =
          expandImageTokens(request.prompt, *manifest.vision, softTokens);
      if (!expanded)
        return fail(in.where + ": " + expanded.error(), 2);
      request.prompt = std::move(*expanded);
    }
    // Before the cache is sized for it: named by where the request came from.
    if (Status s = checkRequest(manifest, request); !s)
      return fail(in.where + ": " + s.error(), 2);
    requests.push_back(std::move(request));
  }

  // The cache: by default room for the max-batch largest requests at once.
  std::vector<PoolSpec> pools = module->poolSpecs();
  std::vector<int64_t> pages(pools.size(), o.cachePages.value_or(0));
  if (!o.cachePages) {
    std::vector<std::vector<int64_t>> needs;
    for (const GenerationRequest &r : requests)
      needs.push_back(pagesNeeded(pools, o.pageSize, manifest.canvasLength, r));
    for (size_t p = 0; p < pools.size(); ++p) {
      std::vector<int64_t> column;
      for (const auto &n : needs)
        column.push_back(n[p]);
      std::sort(column.rbegin(), column.rend());
      for (size_t i = 0; i < column.size() && int64_t(i) < o.maxBatch; ++i)
        pages[p] += column[i];
    }
  }
  auto cache = module->createCache(o.pageSize, pages);
  if (!cache)
    return fail(cache.error());

  Generator generator(*module, *cache, o.maxBatch);
  generator.setCheckFinite(o.checkFinite);
  for (GenerationRequest &r : requests)
    if (auto submitted = generator.submit(r); !submitted)
      return fail(submitted.error(), 2);

  const bool tty = !o.quiet && isatty(STDERR_FILENO);
  // When the text goes to the same terminal, a canvas's text must not stay
  // on the line the next progress line rewrites: it ends its line there.
  const bool textOnTty = tty && isatty(STDOUT_FILENO);
  bool lineOpen = false; // streamed text waits for its newline
  const bool many = requests.size() > 1;
  auto show = [&](const std::vector<int32_t> &tokens, bool skipSpecial) {
    return tokenizer ? tokenizer->decode(tokens, skipSpecial)
                     : shortIds(tokens, tokens.size());
  };
  GenerationEvents events;
  events.onStep = [&](const StepReport &s) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%scanvas %lld step %lld (T=%.3f): accepted %lld/%lld, mean "
                  "entropy %.4f%s",
                  many ? ("[" + std::to_string(s.request) + "] ").c_str() : "",
                  static_cast<long long>(s.canvas),
                  static_cast<long long>(s.step), s.temperature,
                  static_cast<long long>(s.accepted),
                  static_cast<long long>(manifest.canvasLength), s.meanEntropy,
                  s.stopped ? ", done" : "");
    if (o.showSteps && !o.quiet)
      std::cerr << line << "  draft: " << shortIds(*s.argmax) << "\n";
    else if (tty)
      std::cerr << "\r\033[K" << line << std::flush;
  };
  events.onCanvas = [&](size_t request, int64_t canvas,
                        const std::vector<int32_t> &tokens) {
    if (tty && !o.showSteps)
      std::cerr << "\r\033[K" << std::flush;
    if (o.json)
      return;
    const GenerationOptions &opts = requests[request].options;
    if (many)
      std::cout << "[" << request << "] ";
    if (!tokenizer || many || o.showSteps)
      std::cout << "canvas " << canvas << ": ";
    std::string text = show(withoutTrailingPad(tokens, opts), true);
    // Requests interleave: one line per canvas, the text quoted.
    if (many && tokenizer)
      text = json(text).dump();
    bool streamed = tokenizer && !many && !o.showSteps;
    std::cout << text << (streamed && !textOnTty ? "" : "\n") << std::flush;
    lineOpen = streamed && !textOnTty;
  };
  events.onFinished = [&](size_t request, const GenerationResult &r) {
    if (!r.error.empty())
      std::cerr << (tty ? "\r\033[K" : "") << "dgc-run: " << r.error << "\n";
  };

  std::vector<GenerationResult> results = generator.run(events);
  const GenerationStats &stats = generator.stats();
  if (!generator.recordingProblem().empty())
    std::cerr << "dgc-run: warning: steps were launched rather than replayed "
                 "as a CUDA graph: "
              << generator.recordingProblem() << "\n";
  if (lineOpen)
    std::cout << "\n";

  int64_t canvases = 0, passes = 0, kept = 0, failed = 0;
  json out = {{"requests", json::array()}};
  for (size_t i = 0; i < results.size(); ++i) {
    const GenerationResult &r = results[i];
    const GenerationOptions &opts = requests[i].options;
    canvases += r.canvases;
    passes += r.decoderPasses;
    kept += std::count_if(r.tokens.begin(), r.tokens.end(),
                          [&](int32_t t) { return t != opts.padId; });
    failed += !r.error.empty();
    json entry = {{"prompt_tokens", requests[i].prompt.size()},
                  {"tokens", r.tokens},
                  {"canvases", r.canvases},
                  {"decoder_passes", r.decoderPasses},
                  {"steps_per_canvas", r.stepsPerCanvas},
                  {"tokens_per_forward", r.tokensPerForward(opts.padId)},
                  {"ended_on_eos", r.endedOnEos}};
    if (tokenizer)
      entry["text"] = tokenizer->decode(withoutTrailingPad(r.tokens, opts),
                                        /*skipSpecial=*/true);
    if (!r.error.empty())
      entry["error"] = r.error;
    out["requests"].push_back(entry);
  }
  double perForward = passes ? double(kept) / double(passes) : 0.0;
  double perSecond = stats.seconds > 0 ? double(kept) / stats.seconds : 0.0;
  out["stats"] = {{"requests", results.size()},
                  {"failed", failed},
                  {"canvases", canvases},
                  {"decoder_passes", passes},
                  {"decoder_calls", stats.decoderCalls},
                  {"largest_batch", stats.largestBatch},
                  {"tokens", kept},
                  {"tokens_per_forward", perForward},
                  {"seconds", stats.seconds},
                  {"tokens_per_second", perSecond}};
  if (o.json) {
    std::cout << out.dump(1) << "\n";
  } else if (!o.quiet) {
    char line[320];
    std::snprintf(
        line, sizeof line,
        "%zu request%s, %lld canvas%s, %lld decoder passes in %lld calls "
        "(largest batch %lld): %.2f tokens per forward, %lld tokens in "
        "%.2f s = %.1f tokens/s",
        results.size(), results.size() == 1 ? "" : "s",
        static_cast<long long>(canvases), canvases == 1 ? "" : "es",
        static_cast<long long>(passes),
        static_cast<long long>(stats.decoderCalls),
        static_cast<long long>(stats.largestBatch), perForward,
        static_cast<long long>(kept), stats.seconds, perSecond);
    std::cerr << line << "\n";
  }
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  return dgc::runtimeToolMain("dgc-run", argc, argv, runTool);
}
