//===- Server.h - dgc-serve: an OpenAI-compatible server --------*- C++ -*-===//
//
// Serves one compiled module over HTTP (cpp-httplib): /v1/completions and
// /v1/chat/completions (whole or as server-sent events), /v1/models,
// /health and /metrics. One Generator runs on its own thread; each request
// is submitted to it with its own seed and options and joins the batch
// between denoise steps, so its answer equals the same request run alone.
// docs/serving.md describes the API.
//
//===----------------------------------------------------------------------===//

#ifndef DGC_SERVE_SERVER_H
#define DGC_SERVE_SERVER_H

#include "ChatTemplate.h"

#include "dgc/runtime/Generator.h"
#include "dgc/runtime/Tokenizer.h"

#include <functional>
#include <memory>
#include <string>

namespace dgc::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000; // 0: any free port
  std::string modelName;
  std::string apiKey; // empty: no authentication
  int64_t maxBatch = 8;
  int64_t maxQueue = 64; // requests waiting to join the batch
  size_t maxBodyBytes = 1 << 20;
};

/// What the server runs on; all of it outlives the server.
struct ServedModel {
  const runtime::CompiledModule *module = nullptr;
  runtime::KVCache *cache = nullptr;
  runtime::GenerationOptions defaults;
  const runtime::Tokenizer *tokenizer = nullptr; // null: ids only
  const ChatTemplate *chat = nullptr;            // null: no chat endpoint
};

class Server {
public:
  Server(ServedModel model, ServerOptions options);
  ~Server();
  /// Binds the address; the port bound (options.port, or the one chosen).
  runtime::Result<int> bind();
  /// Serves until shutdown(); then answers every request it accepted and
  /// returns the number it answered.
  int64_t serve();
  /// From any thread: refuse new requests (503), finish the accepted ones,
  /// then make serve() return.
  void shutdown();

  struct Impl;

private:
  std::unique_ptr<Impl> impl;
};

} // namespace dgc::serve

#endif // DGC_SERVE_SERVER_H
