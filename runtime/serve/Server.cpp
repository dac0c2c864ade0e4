//===- Server.cpp - dgc-serve: an OpenAI-compatible server ----------------===//
//
// Threads: cpp-httplib's pool runs the handlers; one thread runs
// Generator::serve. Events of the generation thread fill the Job of the
// request they belong to (found by the Generator's request index); the
// handler waits on the Job. Shutdown refuses new requests, waits until every
// accepted one is answered, and only then stops the listener, since
// httplib ends a chunked response early once its listener is stopped.
//
//===----------------------------------------------------------------------===//

#include "Server.h"

#include "Job.h"
#include "Metrics.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <atomic>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <thread>
#include <unordered_map>

namespace dgc::serve {

using nlohmann::json;
using namespace runtime;
using Clock = std::chrono::steady_clock;

namespace {

/// The socket of the connection `req` came on, or -1. httplib 0.11 gives a
/// handler no access to its connection, and a request that is not streamed
/// must still notice a client that went away: the connection is the one
/// socket of this process with the request's two addresses.
int connectionSocket(const httplib::Request &req) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  int found = -1;
  while (dirent *entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2)
      continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&local), &ll) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &pl) != 0)
      continue;
    auto describe = [](const sockaddr_storage &a, std::string &host) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a.ss_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(&a);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        host = buf;
        return int(ntohs(in->sin_port));
      }
      if (a.ss_family == AF_INET6) {
        auto *in = reinterpret_cast<const sockaddr_in6 *>(&a);
        inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
        host = buf;
        return int(ntohs(in->sin6_port));
      }
      return -1;
    };
    std::string lh, ph;
    if (describe(local, lh) == req.local_port &&
        describe(peer, ph) == req.remote_port && ph == req.remote_addr) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

/// Whether the peer of `fd` has closed its end (as httplib's own check).
bool clientGone(int fd) {
  if (fd < 0)
    return false;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0)
    return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP))
    return true;
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(e.body().dump(), "application/json");
}

std::string hexId(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

} // namespace

struct Server::Impl {
  Impl(ServedModel m, ServerOptions o)
      : model(std::move(m)), options(std::move(o)),
        generator(*model.module, *model.cache, options.maxBatch),
        seeds(std::random_device{}()) {}

  ServedModel model;
  ServerOptions options;
  httplib::Server http;
  Generator generator;
  std::thread loop;
  Metrics metrics;

  std::mutex jobsMutex; // the Generator's request index -> its job, choice
  std::unordered_map<size_t, std::pair<std::shared_ptr<Job>, size_t>> jobs;
  std::mutex admitMutex; // the queue check, the submits and `draining`
  bool draining = false;
  std::mt19937_64 seeds;        // under admitMutex
  std::vector<bool> byteTokens; // <0xNN> and special ids
  uint64_t nextId = 0;          // under admitMutex
  std::mutex idleMutex;
  std::condition_variable idle;
  std::atomic<int64_t> inFlight{0}, answered{0};

  std::pair<std::shared_ptr<Job>, size_t> find(size_t request) {
    std::lock_guard<std::mutex> lock(jobsMutex);
    auto it = jobs.find(request);
    if (it == jobs.end())
      return {nullptr, 0};
    return it->second;
  }

  GenerationEvents events();
  void routes();
  bool authorized(const httplib::Request &req, httplib::Response &res);
  void generate(Endpoint endpoint, const httplib::Request &req,
                httplib::Response &res);
  std::shared_ptr<Job> prepare(Endpoint endpoint, const std::string &body,
                               ApiError &error);
  void done(Job &job);
  std::string metricsText();
};

GenerationEvents Server::Impl::events() {
  GenerationEvents ev;
  ev.onStep = [this](const StepReport &s) {
    auto [job, k] = find(s.request);
    if (!job)
      return;
    std::lock_guard<std::mutex> lock(job->mutex);
    Choice &c = job->choices[k];
    auto now = Clock::now();
    if (c.steps > 0)
      metrics.step(std::chrono::duration<double>(now - c.lastStep).count());
    c.lastStep = now;
    ++c.steps;
    if (!job->request.streamDrafts)
      return;
    json draft = {{"canvas", s.canvas},
                  {"step", s.step},
                  {"accepted", s.accepted},
                  {"mean_entropy", s.meanEntropy},
                  {"token_ids", *s.argmax}};
    if (model.tokenizer)
      draft["text"] = model.tokenizer->decode(*s.argmax, true);
    json choice = {{"index", k},
                   {"logprobs", nullptr},
                   {"finish_reason", nullptr},
                   {"dgc_draft", draft}};
    if (job->request.endpoint == Endpoint::ChatCompletions)
      choice["delta"] = json::object();
    else
      choice["text"] = "";
    job->drafts.push_back(std::move(choice));
    job->changed.notify_all();
  };
  ev.onCanvas = [this](size_t request, int64_t,
                       const std::vector<int32_t> &tokens) {
    auto [job, k] = find(request);
    if (!job)
      return;
    std::lock_guard<std::mutex> lock(job->mutex);
    Choice &c = job->choices[k];
    const auto &eos = job->options.eosIds;
    for (int32_t t : tokens) {
      if (static_cast<int64_t>(c.tokens.size()) >= job->maxTokens)
        break;
      c.tokens.push_back(t);
      if (std::find(eos.begin(), eos.end(), t) != eos.end())
        break;
    }
    if (!job->request.stop.empty() && !c.stopHit) {
      size_t at;
      choiceText(model.tokenizer, c.tokens, job->request.stop, &at);
      if (at != std::string::npos) {
        c.stopHit = true; // the rest would be cut away: stop generating
        generator.cancel(request);
      }
    }
    job->changed.notify_all();
  };
  ev.onFinished = [this](size_t request, const GenerationResult &r) {
    std::shared_ptr<Job> job;
    size_t k = 0;
    {
      std::lock_guard<std::mutex> lock(jobsMutex);
      auto it = jobs.find(request);
      if (it == jobs.end())
        return;
      std::tie(job, k) = it->second;
      jobs.erase(it);
    }
    std::lock_guard<std::mutex> lock(job->mutex);
    Choice &c = job->choices[k];
    c.result = r;
    c.result.tokens.clear(); // Choice::tokens holds what is answered
    c.finished = true;
    --job->unfinished;
    job->changed.notify_all();
  };
  return ev;
}

bool Server::Impl::authorized(const httplib::Request &req,
                              httplib::Response &res) {
  if (options.apiKey.empty() ||
      req.get_header_value("Authorization") == "Bearer " + options.apiKey)
    return true;
  sendError(res, {401, "missing or wrong API key (Authorization: Bearer KEY)",
                  "invalid_request_error", "", "invalid_api_key"});
  return false;
}

std::shared_ptr<Job> Server::Impl::prepare(Endpoint endpoint,
                                           const std::string &body,
                                           ApiError &error) {
  auto parsed = parseApiRequest(endpoint, body, error);
  if (!parsed)
    return nullptr;
  auto job = std::make_shared<Job>();
  job->request = std::move(*parsed);
  ApiRequest &r = job->request;
  if (r.model != options.modelName) {
    error = {404,
             "The model '" + r.model + "' does not exist; this server has '" +
                 options.modelName + "'",
             "invalid_request_error", "model", "model_not_found"};
    return nullptr;
  }
  GenerationRequest g;
  const Tokenizer *tok = model.tokenizer;
  if (endpoint == Endpoint::Completions) {
    if (r.promptText && !tok) {
      error = {400,
               "prompt: the checkpoint has no tokenizer.json; send "
               "token ids",
               "invalid_request_error", "prompt", ""};
      return nullptr;
    }
    if (r.promptText) {
      if (auto bos = tok->tokenId("<bos>"))
        g.prompt.push_back(*bos);
      std::vector<int32_t> ids = tok->encode(*r.promptText);
      g.prompt.insert(g.prompt.end(), ids.begin(), ids.end());
    } else {
      g.prompt = r.promptIds;
    }
  } else {
    if (!model.chat || !tok) {
      error = {400,
               "this checkpoint has no chat template (chat_template.jinja "
               "or tokenizer_config.json's chat_template) and tokenizer; "
               "use /v1/completions",
               "invalid_request_error", "messages", ""};
      return nullptr;
    }
    auto text = [&](const char *name) {
      auto id = tok->tokenId(name);
      return id ? *tok->tokenText(*id) : std::string(name);
    };
    json context = {{"messages", r.messages},
                    {"bos_token", text("<bos>")},
                    {"eos_token", text("<eos>")},
                    {"add_generation_prompt", true}};
    auto rendered = model.chat->render(nlohmann::ordered_json(context));
    if (!rendered) {
      error = {400, "messages: the chat template failed: " + rendered.error(),
               "invalid_request_error", "messages", ""};
      return nullptr;
    }
    g.prompt = tok->encode(*rendered); // the template writes <bos>
  }
  g.options = model.defaults;
  r.generation.applyTo(g.options);
  if (r.ignoreEos)
    g.options.eosIds.clear();
  const Manifest &manifest = model.module->manifest();
  if (Status s = checkRequest(manifest, g); !s) {
    bool context =
        s.error().find("max_position_embeddings") != std::string::npos;
    error = {400, s.error(), "invalid_request_error",
             context ? "max_tokens" : "",
             context ? "context_length_exceeded" : ""};
    return nullptr;
  }
  std::vector<int64_t> need = pagesNeeded(
      model.cache->pools(), model.cache->pageSize(), manifest.canvasLength, g);
  for (size_t p = 0; p < need.size(); ++p) {
    int64_t total = *model.cache->totalPages(static_cast<int64_t>(p));
    if (need[p] > total) {
      error = {
          400,
          "a prompt of " + std::to_string(g.prompt.size()) +
              " tokens and up to " + std::to_string(g.options.maxNewTokens) +
              " new tokens needs " + std::to_string(need[p]) +
              " pages of KV-cache pool '" + model.cache->pools()[p].name +
              "', more than the server's " + std::to_string(total) +
              " (dgc-serve --cache-pages)",
          "invalid_request_error", "max_tokens", "context_length_exceeded"};
      return nullptr;
    }
  }
  job->options = g.options;
  job->model = options.modelName;
  job->created = static_cast<int64_t>(std::time(nullptr));
  job->promptTokens = static_cast<int64_t>(g.prompt.size());
  job->maxTokens = g.options.maxNewTokens;
  job->start = Clock::now();
  job->choices.resize(r.n);
  job->unfinished = r.n;
  // The first choice's request, kept to submit each choice with its seed.
  job->choices[0].result.tokens = std::move(g.prompt);
  return job;
}

void Server::Impl::generate(Endpoint endpoint, const httplib::Request &req,
                            httplib::Response &res) {
  if (!authorized(req, res))
    return;
  ApiError error;
  std::shared_ptr<Job> job = prepare(endpoint, req.body, error);
  if (!job) {
    metrics.request("bad_request");
    sendError(res, error);
    return;
  }
  std::vector<int32_t> prompt = std::move(job->choices[0].result.tokens);
  job->choices[0].result.tokens.clear();
  {
    std::lock_guard<std::mutex> admit(admitMutex);
    if (draining) {
      metrics.request("rejected");
      sendError(res, {503, "the server is shutting down", "server_error", "",
                      "shutting_down"});
      return;
    }
    GeneratorLoad load = generator.load();
    if (load.waiting + job->request.n > options.maxQueue) {
      metrics.request("rejected");
      res.set_header("Retry-After", "1");
      sendError(res, {429,
                      "the queue is full (" + std::to_string(load.waiting) +
                          " requests waiting, dgc-serve --max-queue " +
                          std::to_string(options.maxQueue) + "); retry later",
                      "rate_limit_error", "", "queue_full"});
      return;
    }
    uint64_t seed = job->request.seed ? *job->request.seed : seeds();
    bool chat = endpoint == Endpoint::ChatCompletions;
    job->id = (chat ? "chatcmpl-" : "cmpl-") + hexId(++nextId);
    std::lock_guard<std::mutex> lock(jobsMutex);
    for (size_t k = 0; k < job->choices.size(); ++k) {
      GenerationRequest g{prompt, {}, job->options, seed + k, nullptr};
      job->choices[k].seed = seed + k;
      Result<size_t> index = generator.submit(std::move(g));
      if (!index) { // checked above: only a stopping generator refuses
        for (size_t j = 0; j < k; ++j)
          generator.cancel(job->choices[j].request);
        sendError(res, {500, index.error(), "server_error", "", ""});
        return;
      }
      job->choices[k].request = *index;
      jobs[*index] = {job, k};
    }
    ++inFlight;
  }

  auto cancelAll = [this, job] {
    for (const Choice &c : job->choices)
      generator.cancel(c.request);
  };
  if (job->request.stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job](size_t, httplib::DataSink &sink) {
          std::string out;
          {
            std::unique_lock<std::mutex> lock(job->mutex);
            out = nextEvents(model.tokenizer, byteTokens, *job);
            if (out.empty() && !job->doneSent) {
              job->changed.wait_for(lock, std::chrono::milliseconds(100));
              out = nextEvents(model.tokenizer, byteTokens, *job);
            }
          }
          if (!out.empty() && !sink.write(out.data(), out.size()))
            return false;
          if (job->doneSent) {
            sink.done();
            return true;
          }
          return sink.is_writable(); // false: the client went away
        },
        [this, job, cancelAll](bool) {
          bool finished;
          {
            std::lock_guard<std::mutex> lock(job->mutex);
            finished = job->doneSent;
          }
          if (!finished) {
            cancelAll();
            std::unique_lock<std::mutex> lock(job->mutex);
            job->changed.wait(lock, [&] { return job->unfinished == 0; });
          }
          done(*job);
        });
    return;
  }

  int fd = connectionSocket(req);
  bool gone = false;
  {
    std::unique_lock<std::mutex> lock(job->mutex);
    while (job->unfinished > 0) {
      job->changed.wait_for(lock, std::chrono::milliseconds(100));
      if (!gone && clientGone(fd)) {
        gone = true;
        lock.unlock();
        cancelAll();
        lock.lock();
      }
    }
  }
  std::lock_guard<std::mutex> lock(job->mutex);
  for (const Choice &c : job->choices)
    if (!c.result.error.empty() && !c.result.cancelled) {
      sendError(res,
                {500, c.result.error, "server_error", "", "generation_failed"});
      done(*job);
      return;
    }
  res.set_content(answer(model.tokenizer, *job).dump(), "application/json");
  done(*job);
}

void Server::Impl::done(Job &job) {
  int64_t completion = 0, passes = 0;
  bool cancelled = false, failed = false;
  for (const Choice &c : job.choices) {
    completion += completionTokens(model.tokenizer, c, job.request.stop);
    passes += c.result.decoderPasses;
    cancelled = cancelled || (c.result.cancelled && !c.stopHit);
    failed = failed || (!c.result.error.empty() && !c.result.cancelled);
  }
  metrics.request(failed ? "failed" : cancelled ? "cancelled" : "completed");
  metrics.finished(
      job.promptTokens, completion, passes,
      std::chrono::duration<double>(Clock::now() - job.start).count());
  ++answered;
  std::lock_guard<std::mutex> lock(idleMutex);
  --inFlight;
  idle.notify_all();
}

std::string Server::Impl::metricsText() {
  GeneratorLoad load = generator.load();
  std::vector<PoolPages> pages;
  for (size_t p = 0; p < model.cache->pools().size(); ++p)
    pages.push_back({model.cache->pools()[p].name,
                     p < load.pagesUsed.size() ? load.pagesUsed[p] : 0,
                     p < load.pagesReserved.size() ? load.pagesReserved[p] : 0,
                     *model.cache->totalPages(static_cast<int64_t>(p))});
  return metrics.text(load.waiting, load.running, pages);
}

void Server::Impl::routes() {
  http.Post("/v1/completions",
            [this](const httplib::Request &req, httplib::Response &res) {
              generate(Endpoint::Completions, req, res);
            });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request &req, httplib::Response &res) {
              generate(Endpoint::ChatCompletions, req, res);
            });
  auto modelJson = [this] {
    return json{{"id", options.modelName},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "dgc"}};
  };
  http.Get("/v1/models", [this, modelJson](const httplib::Request &req,
                                           httplib::Response &res) {
    if (!authorized(req, res))
      return;
    json list = {{"object", "list"}, {"data", json::array({modelJson()})}};
    res.set_content(list.dump(), "application/json");
  });
  http.Get("/v1/models/(.+)", [this, modelJson](const httplib::Request &req,
                                                httplib::Response &res) {
    if (!authorized(req, res))
      return;
    if (req.matches[1] != options.modelName)
      return sendError(
          res, {404, "The model '" + req.matches[1].str() + "' does not exist",
                "invalid_request_error", "model", "model_not_found"});
    res.set_content(modelJson().dump(), "application/json");
  });
  http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(admitMutex);
      stopping = draining;
    }
    res.status = stopping ? 503 : 200;
    res.set_content(json{{"status", stopping ? "draining" : "ok"}}.dump(),
                    "application/json");
  });
  http.Get("/metrics",
           [this](const httplib::Request &, httplib::Response &res) {
             res.set_content(metricsText(), "text/plain; version=0.0.4");
           });
  // httplib's own refusals (no route, a body over the limit, a request it
  // cannot parse) get OpenAI's error body too.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        std::string message =
            res.status == 404 ? "no route " + req.method + " " + req.path
            : res.status == 413
                ? "the body is larger than the server accepts"
                : "bad request (HTTP " + std::to_string(res.status) + ")";
        sendError(res, {res.status, message, "invalid_request_error", "",
                        res.status == 413 ? "body_too_large" : ""});
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request &,
                                httplib::Response &res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception &e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    sendError(res, {500, what, "server_error", "", ""});
  });
}

Server::Server(ServedModel model, ServerOptions options)
    : impl(std::make_unique<Impl>(std::move(model), std::move(options))) {
  impl->routes();
  if (const Tokenizer *tok = impl->model.tokenizer) {
    impl->byteTokens.assign(static_cast<size_t>(tok->vocabSize()), false);
    // Special ids decode to nothing: bytes on both sides of one join up.
    for (size_t id = 0; id < impl->byteTokens.size(); ++id)
      impl->byteTokens[id] = tok->isSpecial(static_cast<int32_t>(id));
    for (int byte = 0; byte < 256; ++byte) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", byte);
      if (auto id = tok->tokenId(name); id && *id >= 0)
        impl->byteTokens[static_cast<size_t>(*id)] = true;
    }
  }
  impl->http.set_payload_max_length(impl->options.maxBodyBytes);
  // Every request in the batch or the queue holds a handler thread, and
  // idle keep-alive connections hold one each.
  size_t threads = static_cast<size_t>(
      std::max<int64_t>(64, impl->options.maxBatch + impl->options.maxQueue) +
      16);
  impl->http.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
}

Server::~Server() = default;

Result<int> Server::bind() {
  const ServerOptions &o = impl->options;
  if (o.port == 0) {
    int port = impl->http.bind_to_any_port(o.host);
    if (port <= 0)
      return Error{"cannot listen on " + o.host + " (any port)"};
    return port;
  }
  if (!impl->http.bind_to_port(o.host, o.port))
    return Error{"cannot listen on " + o.host + ":" + std::to_string(o.port) +
                 " (in use, or not an address of this machine?)"};
  return o.port;
}

int64_t Server::serve() {
  impl->loop = std::thread([this] { impl->generator.serve(impl->events()); });
  std::thread watcher([this] {
    std::unique_lock<std::mutex> lock(impl->idleMutex);
    impl->idle.wait(lock, [this] {
      std::lock_guard<std::mutex> admit(impl->admitMutex);
      return impl->draining && impl->inFlight == 0;
    });
    impl->http.stop();
  });
  impl->http.listen_after_bind();
  {
    // The listener failed by itself: let the watcher go.
    std::lock_guard<std::mutex> admit(impl->admitMutex);
    impl->draining = true;
  }
  impl->idle.notify_all();
  watcher.join();
  impl->generator.stop();
  impl->loop.join();
  return impl->answered;
}

void Server::shutdown() {
  {
    std::lock_guard<std::mutex> admit(impl->admitMutex);
    impl->draining = true;
  }
  std::lock_guard<std::mutex> lock(impl->idleMutex);
  impl->idle.notify_all();
}

} // namespace dgc::serve
