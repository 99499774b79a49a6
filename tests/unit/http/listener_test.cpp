// The listener actor: started, asked and stopped by message, as the daemon and embedding CAF
// applications use it.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "actors/engine.hpp"
#include "io/http/http_listener.hpp"
#include "raw_http_client.hpp"
#include "test_server.hpp"

using namespace sabre;
using namespace sabre::http;
using namespace sabre::http::testing;

namespace {

struct ListenerFixture {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  engine_actor engine;
  std::shared_ptr<const openai::ModelContext> context;

  ListenerFixture() {
    add_engine_message_types(config);
    system = std::make_unique<caf::actor_system>(config);
    const EngineOptions options = tiny_engine_options(int64_t{16} << 20);
    engine = spawn_engine(*system, options);
    context = std::make_shared<const openai::ModelContext>(tiny_model_context(options));
  }
  ~ListenerFixture() {
    stop_engine(engine);
    system->await_all_actors_done();
  }

  http_listener_actor spawn(const std::string& host, uint16_t port) {
    HttpListenerSetup setup;
    setup.config.host = host;
    setup.config.port = port;
    setup.engine = engine;
    setup.context = context;
    return spawn_http_listener(*system, std::move(setup));
  }
};

bool accepts_connections(uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

}  // namespace

TEST_CASE("listener actor: listen replies the port, it serves, shutdown stops accepting and quits") {
  ListenerFixture fixture;
  const http_listener_actor listener = fixture.spawn("127.0.0.1", 0);
  caf::scoped_actor self{*fixture.system};

  uint16_t port = 0;
  self->request(listener, std::chrono::seconds(10), listen_atom::value)
      .receive([&](uint16_t bound) { port = bound; }, [&](caf::error& e) { FAIL(fixture.system->render(e)); });
  REQUIRE(port != 0);
  CHECK(request(port, "GET", "/health").status == 200);
  const RawResponse completion =
      request(port, "POST", "/v1/completions", R"({"prompt":"hi","max_tokens":2,"ignore_eos":true})");
  CHECK(completion.status == 200);
  CHECK(completion.body.find(R"("completion_tokens":2)") != std::string::npos);

  self->monitor(listener);
  uint64_t in_flight = 99;
  self->request(listener, std::chrono::seconds(10), shutdown_atom::value, int64_t{1000})
      .receive([&](uint64_t n) { in_flight = n; }, [&](caf::error& e) { FAIL(fixture.system->render(e)); });
  CHECK(in_flight == 0);
  bool down = false;
  self->receive([&](caf::down_msg& msg) { down = msg.source == listener.address(); },
                caf::after(std::chrono::seconds(10)) >> [] {});
  CHECK(down);
  CHECK_FALSE(accepts_connections(port));
}

TEST_CASE("listener actor: an address it cannot bind is an error that names it") {
  ListenerFixture fixture;
  caf::scoped_actor self{*fixture.system};
  const http_listener_actor first = fixture.spawn("127.0.0.1", 0);
  uint16_t taken = 0;
  self->request(first, std::chrono::seconds(10), listen_atom::value)
      .receive([&](uint16_t bound) { taken = bound; }, [&](caf::error& e) { FAIL(fixture.system->render(e)); });
  REQUIRE(taken != 0);

  // The same port again, and a host that is no IP address.
  for (const auto& [host, port] : {std::pair<std::string, uint16_t>{"127.0.0.1", taken}, {"not-an-ip", 0}}) {
    const http_listener_actor second = fixture.spawn(host, port);
    std::string message;
    self->request(second, std::chrono::seconds(10), listen_atom::value)
        .receive([&](uint16_t) { message = "bound"; }, [&](caf::error& e) { message = fixture.system->render(e); });
    INFO(message);
    CHECK(message.find(host) != std::string::npos);
    self->request(second, std::chrono::seconds(10), shutdown_atom::value, int64_t{0}).receive([](uint64_t) {}, [](caf::error&) {});
  }
  // The first one still serves.
  CHECK(request(taken, "GET", "/health").status == 200);
  self->request(first, std::chrono::seconds(10), shutdown_atom::value, int64_t{0}).receive([](uint64_t) {}, [](caf::error&) {});
}
