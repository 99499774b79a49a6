#include "io/http/http_server.hpp"

#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "io/http/generation_sink_actor.hpp"
#include "io/http/http_session.hpp"

namespace sabre::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpServer::HttpServer(HttpServerConfig config, caf::actor_system& system, engine_actor engine,
                       const openai::ModelContext& context)
    : state_(std::move(config), system, std::move(engine), context), acceptor_(net::make_strand(io_)) {}

HttpServer::~HttpServer() { shutdown(std::chrono::seconds(5)); }

void HttpServer::start() {
  const auto& config = state_.config;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(config.host, ec);
  if (ec) throw std::runtime_error(fmt::format("--host {}: not an IP address ({})", config.host, ec.message()));
  const tcp::endpoint endpoint{address, config.port};
  auto fail = [&](const char* what) {
    throw std::runtime_error(fmt::format("cannot {} {}:{}: {}", what, config.host, config.port, ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) fail("listen on");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
  accept();
  const unsigned threads = std::max(1u, config.threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
}

tcp::endpoint HttpServer::local_endpoint() const { return acceptor_.local_endpoint(); }

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // stream chunks are small and latency matters
      std::make_shared<HttpSession>(std::move(socket), state_)->start();
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    accept();
  });
}

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  state_.draining = true;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  const size_t in_flight = state_.generations.size();
  if (in_flight > 0) {
    spdlog::info("shutting down: aborting {} generation(s) in flight", in_flight);
    state_.generations.broadcast(drain_atom::value);
    if (!state_.generations.wait_empty(grace)) {
      spdlog::warn("shutting down: {} generation(s) still running after {} ms", state_.generations.size(),
                   grace.count());
    }
  }
  // The generations' last bytes are posted to their sessions: let them reach the sockets (a reader
  // that stopped reading is cut off at the deadline) before the threads stop.
  if (!state_.responses.wait_none(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)))) {
    spdlog::warn("shutting down: some responses were not written out before the deadline");
  }
  io_.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace sabre::http
