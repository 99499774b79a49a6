#pragma once
// The real HTTP server in-process, on the tiny qwen3_qknorm fixture with the byte tokenizer, on a free
// port of 127.0.0.1, with API key "TOKEN". One instance serves every test of this program (loading is
// cheap, but starting CAF per test case is not).

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "io/http/http_server.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::http::testing {

// The engine options and model context every HTTP test uses: the tiny qwen3_qknorm fixture with the
// byte tokenizer, one thread, a KV pool of `kv_cache_bytes`.
EngineOptions tiny_engine_options(int64_t kv_cache_bytes);
openai::ModelContext tiny_model_context(const EngineOptions& options);

class TestServer {
 public:
  static TestServer& instance();
  // Stops it (before main returns: CAF's actor_system must not be torn down among static destructors).
  static void release();
  ~TestServer();

  uint16_t port() const { return port_; }
  const openai::ModelContext& context() const { return context_; }
  // The value of the first /metrics sample whose line starts with `name` (-1 when absent).
  double metric(const std::string& name) const;

 private:
  TestServer();

  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  engine_actor engine_;
  openai::ModelContext context_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

inline const char* kAuth = "Authorization: Bearer TOKEN";

}  // namespace sabre::http::testing
