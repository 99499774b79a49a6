#pragma once
// A tiny OpenAI-style streaming server for the client's end-to-end tests: Beast on 127.0.0.1, an
// ephemeral port, one thread per connection, keep-alive. Each POST is answered with `tokens` completion
// chunks after `first_delay`, `gap` apart, each SSE event split across two HTTP chunks so the client
// must reassemble them, then a finish chunk and [DONE]. Other behaviours: usage off, an API key to
// demand (401 otherwise), a stream cut short.

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // first: Boost 1.74's asio headers use std::exchange without including it
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace sabre::loadtest::testing {

struct FakeBehaviour {
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds gap{20};
  int tokens = 4;
  bool usage_in_every_chunk = true;
  std::optional<std::string> api_key;  // demanded as "Bearer KEY"
  bool cut_stream_short = false;       // close after the first chunk, without a final chunk
  bool close_after_response = false;   // close once the stream is complete, keep-alive notwithstanding
};

class FakeSseServer {
 public:
  explicit FakeSseServer(FakeBehaviour behaviour);
  ~FakeSseServer();
  FakeSseServer(const FakeSseServer&) = delete;
  FakeSseServer& operator=(const FakeSseServer&) = delete;

  unsigned short port() const { return port_; }
  size_t connections_accepted() const { return accepted_.load(); }
  std::vector<std::string> request_bodies() const;
  std::vector<std::string> authorization_headers() const;

 private:
  void accept_loop();
  void serve(boost::asio::ip::tcp::socket socket);

  FakeBehaviour behaviour_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_, authorizations_;
  std::vector<std::thread> connection_threads_;
  std::thread accept_thread_;
};

}  // namespace sabre::loadtest::testing
