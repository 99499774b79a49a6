#pragma once
// The HTTP listener: an Asio io_context run by a small thread pool, an acceptor handing each
// connection to an HttpSession on its own strand, and the graceful shutdown SIGINT/SIGTERM ask for.
// The engine and actor system belong to the caller and must outlive the server.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "io/http/server_state.hpp"

namespace sabre::http {

class HttpServer {
 public:
  HttpServer(HttpServerConfig config, caf::actor_system& system, engine_actor engine,
             const openai::ModelContext& context);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (throws std::runtime_error naming the address), then starts the threads.
  void start();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting, aborts the generations in flight (streams end with their final "abort" chunk and
  // [DONE]), waits up to `grace` for their answers to go out, then stops the threads. Idempotent.
  void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  size_t generations_in_flight() const { return state_.generations.size(); }

 private:
  void accept();

  ServerState state_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace sabre::http
