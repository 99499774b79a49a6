#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for the listener below
#include "test_server.hpp"

#include <catch2/catch.hpp>

#include <sstream>

#include "model/checkpoint.hpp"
#include "raw_http_client.hpp"

namespace sabre::http::testing {

namespace {
std::unique_ptr<TestServer>& shared_server() {
  static std::unique_ptr<TestServer> server;
  return server;
}
}  // namespace

TestServer& TestServer::instance() {
  auto& server = shared_server();
  if (!server) server.reset(new TestServer());
  return *server;
}

void TestServer::release() { shared_server().reset(); }

EngineOptions tiny_engine_options(int64_t kv_cache_bytes) {
  const std::string models = std::string(SABRE_TEST_FIXTURES) + "/models/";
  EngineOptions options;
  options.model = models + "qwen3_qknorm";
  options.tokenizer = models + "byte_tokenizer";
  options.device.threads = 1;
  options.cache.kv_cache_bytes = kv_cache_bytes;
  return options;
}

openai::ModelContext tiny_model_context(const EngineOptions& options) {
  return openai::load_model_context(open_checkpoint(options.model), options.tokenizer, {}, "qwen3_qknorm", 256);
}

TestServer::TestServer() {
  add_engine_message_types(config_);
  system_ = std::make_unique<caf::actor_system>(config_);
  const EngineOptions options = tiny_engine_options(int64_t{64} << 20);
  engine_ = spawn_engine(*system_, options);
  context_ = tiny_model_context(options);
  HttpServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.api_key = "TOKEN";
  config.max_body_bytes = 64 * 1024;
  config.request_timeout = std::chrono::seconds(2);  // short, so that the timeout test is quick
  server_ = std::make_unique<HttpServer>(config, *system_, engine_, context_);
  server_->start();
  port_ = server_->local_endpoint().port();
}

TestServer::~TestServer() {
  server_->shutdown(std::chrono::seconds(5));
  stop_engine(engine_);
  system_->await_all_actors_done();
  server_.reset();
}

double TestServer::metric(const std::string& name) const {
  const RawResponse response = request(port_, "GET", "/metrics");
  std::istringstream lines(response.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

}  // namespace sabre::http::testing

namespace {
struct ReleaseServerAtRunEnd : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunEnded(const Catch::TestRunStats& stats) override {
    sabre::http::testing::TestServer::release();
    TestEventListenerBase::testRunEnded(stats);
  }
};
}  // namespace
CATCH_REGISTER_LISTENER(ReleaseServerAtRunEnd)
