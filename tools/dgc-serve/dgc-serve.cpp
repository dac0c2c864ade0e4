//===- dgc-serve.cpp - Serve a compiled module over the OpenAI API --------===//
//
// Loads MODEL.dgm and a checkpoint once, prints the address, and serves
// until SIGINT or SIGTERM; then it answers every request it accepted and
// exits 0. See `dgc-serve --help` and docs/serving.md.
//
//===----------------------------------------------------------------------===//

#include "dgc/runtime/HostThreads.h"
#include "runtime/serve/Server.h"

#include "tools/LoadedModel.h"
#include "tools/RuntimeToolMain.h"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <pthread.h>
#include <set>
#include <thread>

using namespace dgc::runtime;

namespace {

const char *const kUsage =
    R"(dgc-serve: serve a compiled DiffusionGemma module over the OpenAI API

usage: dgc-serve MODEL.dgm --weights DIR [options]

MODEL.dgm is what `dgc compile` wrote; DIR is the Hugging Face checkpoint
(weights; tokenizer.json for text; chat_template.jinja or
tokenizer_config.json's chat_template for /v1/chat/completions; its
generation_config.json gives the defaults a request may override).

  --host ADDR        address to listen on (default 127.0.0.1)
  --port N           port (default 8000; 0 picks a free one)
  --device D         host (the default), cuda or cuda:N
  --model-name NAME  the model id clients send (default: MODEL.dgm's
                     directory name without .dgm)
  --api-key KEY      require "Authorization: Bearer KEY" on /v1/*
  --max-batch N      requests whose canvases share a decoder pass (default 8)
  --max-queue N      requests that may wait to join the batch; more are
                     answered 429 (default 64)
  --page-size N      KV-cache positions per page (default 16)
  --cache-pages N    pages per KV-cache pool (default: max-batch requests
                     of the model's whole context)
  --max-body N       largest request body in bytes (default 1048576)
  --threads N        threads of the host code's parallel loops (default: one
                     per core)
  --version          dgc's version and commit
  --help             this text

Endpoints: POST /v1/completions, POST /v1/chat/completions (both with
"stream": true), GET /v1/models, GET /health, GET /metrics.
)";

int fail(const std::string &message, int status = 1) {
  std::cerr << "dgc-serve: " << message << "\n";
  return status;
}

bool parseInt(const std::string &text, int64_t lo, int64_t hi, int64_t &out) {
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 18)
    return false;
  out = std::stoll(text);
  return out >= lo && out <= hi;
}

struct Options {
  std::string module, weights, device = "host", modelName;
  dgc::serve::ServerOptions server;
  int64_t pageSize = 16;
  std::optional<int64_t> cachePages;
  int64_t threads = 0; // of the host code; 0: one per core
};

std::optional<Options> parse(int argc, char **argv, std::string &error,
                             bool &help) {
  Options o;
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0)
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inlineValue = true;
      }
    if (arg == "--help" || arg == "-h") {
      help = true;
      return std::nullopt;
    }
    if (arg.rfind("-", 0) != 0 || arg == "-") {
      if (!o.module.empty()) {
        error = "unexpected argument '" + arg + "': one MODEL.dgm only";
        return std::nullopt;
      }
      o.module = arg;
      continue;
    }
    if (!seen.insert(arg).second) {
      error = arg + " given twice";
      return std::nullopt;
    }
    if (!inlineValue) {
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return std::nullopt;
      }
      value = argv[++i];
    }
    auto integer = [&](int64_t lo, int64_t hi, int64_t &out) {
      if (parseInt(value, lo, hi, out))
        return true;
      error = arg + ": '" + value + "' is not an integer in [" +
              std::to_string(lo) + ", " + std::to_string(hi) + "]";
      return false;
    };
    auto text = [&](std::string &out) {
      if (!value.empty()) {
        out = value;
        return true;
      }
      error = arg + " needs a non-empty value";
      return false;
    };
    int64_t n = 0;
    bool ok;
    if (arg == "--weights")
      ok = text(o.weights);
    else if (arg == "--host")
      ok = text(o.server.host);
    else if (arg == "--port")
      ok = integer(0, 65535, n), o.server.port = static_cast<int>(n);
    else if (arg == "--device")
      ok = text(o.device);
    else if (arg == "--model-name")
      ok = text(o.server.modelName);
    else if (arg == "--api-key")
      ok = text(o.server.apiKey);
    else if (arg == "--max-batch")
      ok = integer(1, 4096, o.server.maxBatch);
    else if (arg == "--max-queue")
      ok = integer(0, 1 << 20, o.server.maxQueue);
    else if (arg == "--page-size")
      ok = integer(1, 1 << 16, o.pageSize);
    else if (arg == "--cache-pages")
      ok = integer(1, INT32_MAX, n), o.cachePages = n;
    else if (arg == "--threads")
      ok = integer(1, 1024, o.threads);
    else if (arg == "--max-body")
      ok = integer(1024, int64_t(1) << 30, n),
      o.server.maxBodyBytes = static_cast<size_t>(n);
    else {
      error = "unknown option '" + arg + "' (see dgc-serve --help)";
      ok = false;
    }
    if (!ok)
      return std::nullopt;
  }
  if (o.module.empty())
    error = "expected MODEL.dgm (see dgc-serve --help)";
  else if (o.weights.empty())
    error = "expected --weights DIR: the checkpoint to serve";
  if (!error.empty())
    return std::nullopt;
  if (o.server.modelName.empty()) {
    std::string name = o.module;
    while (name.size() > 1 && name.back() == '/')
      name.pop_back();
    name = name.substr(name.find_last_of('/') + 1);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".dgm") == 0)
      name.resize(name.size() - 4);
    o.server.modelName = name;
  }
  return o;
}

} // namespace

static int runTool(int argc, char **argv) {
  std::string error;
  bool help = false;
  auto parsed = parse(argc, argv, error, help);
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  if (!parsed)
    return fail(error, 2);
  Options &o = *parsed;
  auto device = parseDevice(o.device);
  if (!device)
    return fail("--device: " + device.error(), 2);

  // Signals go to one thread, which starts the drain; every other thread
  // (httplib's, the generator's) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  setHostThreads(unsigned(o.threads));
  auto loaded = dgc::loadModel(o.module, o.weights, *device);
  if (!loaded)
    return fail(loaded.error());
  std::optional<dgc::serve::ChatTemplate> chat;
  if (loaded->chatTemplate) {
    auto t = dgc::serve::ChatTemplate::parse(*loaded->chatTemplate,
                                             loaded->chatTemplatePath);
    if (!t)
      return fail(t.error());
    chat = std::move(*t);
  }
  const Manifest &manifest = loaded->module->manifest();
  std::vector<PoolSpec> pools = loaded->module->poolSpecs();
  std::vector<int64_t> pages(pools.size(), o.cachePages.value_or(0));
  if (!o.cachePages) {
    // Room for max-batch requests that each fill the whole context.
    GenerationRequest longest;
    int64_t positions = manifest.maxPositions ? manifest.maxPositions : 4096;
    longest.options.maxNewTokens = manifest.canvasLength;
    longest.prompt.assign(positions - manifest.canvasLength, 0);
    std::vector<int64_t> need =
        pagesNeeded(pools, o.pageSize, manifest.canvasLength, longest);
    for (size_t p = 0; p < pools.size(); ++p)
      pages[p] = need[p] * o.server.maxBatch;
  }
  auto cache = loaded->module->createCache(o.pageSize, pages);
  if (!cache)
    return fail(cache.error());

  dgc::serve::ServedModel served;
  served.module = loaded->module.get();
  served.cache = &*cache;
  served.defaults = loaded->defaults;
  served.tokenizer = loaded->tokenizer ? &*loaded->tokenizer : nullptr;
  served.chat = chat ? &*chat : nullptr;
  dgc::serve::Server server(served, o.server);
  auto port = server.bind();
  if (!port)
    return fail(port.error());

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "dgc-serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << ": finishing the accepted requests\n";
    server.shutdown();
  });
  waiter.detach();
  std::cout << "dgc-serve: serving " << o.server.modelName << " on http://"
            << o.server.host << ":" << *port << std::endl;
  int64_t answered = server.serve();
  std::cerr << "dgc-serve: stopped; " << answered << " requests answered\n";
  return 0;
}

int main(int argc, char **argv) {
  return dgc::runtimeToolMain("dgc-serve", argc, argv, runTool);
}
