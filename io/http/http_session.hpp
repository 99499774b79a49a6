#pragma once
// One client connection: reads HTTP/1.1 requests with Beast (body and header limits, a read timeout),
// answers them through the Router, and for generations starts a sink actor whose output comes back as
// bytes posted to this connection's strand. Every byte leaves through one queue with one async_write
// at a time, so a slow reader slows only its own stream (and is dropped past a queue limit). While a
// generation runs, a pending read watches the socket: the client hanging up aborts the engine requests.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <caf/actor.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "io/http/generation_output.hpp"
#include "io/http/router.hpp"
#include "io/http/server_state.hpp"

namespace sabre::http {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, ServerState& state);
  void start();

  // From any thread (the generation's actor): posted to the strand.
  void post_respond(HttpResponse response, GenerationSummary summary);
  void post_stream(std::string events, bool begin);
  void post_stream_end(std::string events, GenerationSummary summary);

 private:
  void read_request();
  void on_header_read(boost::beast::error_code ec);
  void on_request_read(boost::beast::error_code ec);
  void handle_request();
  void answer_and_close(const openai::ApiError& error);
  // in_response_ with ServerState::responses kept in step (shutdown waits for responses in flight).
  void begin_response();
  void end_response();
  void start_generation(RouteResult&& plan);
  void query_metrics();

  void respond(const HttpResponse& response, const GenerationSummary& summary = {});
  void write(std::string bytes);
  void write_next();
  void on_written(boost::beast::error_code ec);
  void finish_response_if_done();

  void watch_for_disconnect();
  void on_watch(boost::beast::error_code ec, size_t bytes);
  void client_gone();
  void log_access();
  void close();
  void linger_and_close();
  void drain();

  boost::beast::tcp_stream stream_;
  ServerState& state_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string remote_;
  std::array<char, 4096> discard_{};  // what a closing connection still receives

  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool watching_ = false;
  bool closed_ = false;

  // The request being answered.
  bool in_response_ = false;
  bool response_ended_ = false;  // its last byte is queued
  bool keep_alive_ = true;
  bool head_ = false;  // a HEAD request: every answer without its body, so the framing stays right
  StreamFraming framing_ = StreamFraming::chunked;
  caf::actor sink_;
  uint64_t request_number_ = 0;
  std::string method_, path_;
  int status_ = 0;
  GenerationSummary summary_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace sabre::http
