#pragma once
// The HTTP/1.1 side of the load test, on Boost.Asio C++20 coroutines in one thread: a pool of
// keep-alive connections to one server and one streamed request (POST, then the SSE body read piece by
// piece as it arrives, so each chunk is timed when it reaches the client, not when a buffer fills).

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "http_url.hpp"
#include "request_outcome.hpp"

namespace sabre::loadtest {

// The server cannot be reached at all (name resolution or connect failed).
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpConnection {
  explicit HttpConnection(boost::asio::any_io_executor executor) : stream(std::move(executor)) {}
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;  // bytes read past the previous response stay here
};

class ConnectionPool {
 public:
  ConnectionPool(boost::asio::any_io_executor executor, HttpUrl url, std::chrono::milliseconds timeout);

  // Resolves the host and opens one connection (kept for the first request). Throws ConnectionError
  // "cannot connect to http://...: REASON".
  boost::asio::awaitable<void> check_reachable();

  // An idle connection the server has not closed if there is one (reused = true), else a new one; with
  // fresh = true always a new one.
  boost::asio::awaitable<std::unique_ptr<HttpConnection>> acquire(bool& reused, bool fresh = false);
  // Returns a connection whose last response allowed keep-alive.
  void release(std::unique_ptr<HttpConnection> connection);

  const HttpUrl& url() const { return url_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  size_t connections_opened() const { return opened_; }

 private:
  boost::asio::awaitable<std::unique_ptr<HttpConnection>> open();

  boost::asio::any_io_executor executor_;
  HttpUrl url_;
  std::chrono::milliseconds timeout_;
  std::optional<boost::asio::ip::tcp::resolver::results_type> endpoints_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
  size_t opened_ = 0;
};

struct StreamRequest {
  std::string path;  // the endpoint, e.g. /v1/completions (the URL's base path is prepended)
  std::string body;  // JSON asking for a stream
  std::optional<std::string> api_key;
};

// Sends one request and reads its SSE stream to the end. Never throws: failures (connection, HTTP
// status other than 200 with the server's error message, an error chunk, a stream cut short, a
// timeout) come back as an outcome with success = false. `epoch` is the benchmark's start (start_s is
// measured from it).
boost::asio::awaitable<RequestOutcome> run_stream_request(ConnectionPool& pool, const StreamRequest& request,
                                                          std::chrono::steady_clock::time_point epoch);

}  // namespace sabre::loadtest
