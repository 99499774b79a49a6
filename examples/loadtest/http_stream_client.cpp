#include "http_stream_client.hpp"

#include <fmt/format.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <limits>

#include <cerrno>
#include <sys/socket.h>

#include "sse_parser.hpp"
#include "stream_chunk.hpp"

namespace sabre::loadtest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string describe(const beast::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return fmt::format("no data for {:.1f} s (--timeout)", static_cast<double>(timeout.count()) / 1000.0);
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof) return "server closed the connection";
  return ec.message();
}

// The message inside an error response body (OpenAI-style JSON), else the body itself, shortened.
std::string error_message_of(const std::string& body) {
  StreamChunkDecoder decoder;
  const StreamChunk parsed = decoder.decode(body);
  if (parsed.error && parsed.error->rfind("event data is not", 0) != 0) return *parsed.error;
  std::string text = body.size() > 300 ? body.substr(0, 300) + "..." : body;
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return text;
}

// Reads what is left of the body into a string (error responses are small).
asio::awaitable<std::string> read_whole_body(HttpConnection& connection,
                                            http::response_parser<http::buffer_body>& parser,
                                            std::chrono::milliseconds timeout) {
  std::string body;
  char buffer[4096];
  while (!parser.is_done() && body.size() < 65536) {
    parser.get().body().data = buffer;
    parser.get().body().size = sizeof buffer;
    beast::error_code ec;
    connection.stream.expires_after(timeout);
    co_await http::async_read_some(connection.stream, connection.buffer, parser,
                                   asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    body.append(buffer, sizeof buffer - parser.get().body().size);
    if (ec) break;
  }
  co_return body;
}

// The measurements taken while the stream comes in.
struct StreamState {
  SseParser sse;
  StreamChunkDecoder decoder;
  bool saw_done = false;
  bool saw_finish_reason = false;
  size_t events = 0;
  std::optional<Clock::time_point> last_content;
};

void take_events(std::vector<std::string> events, Clock::time_point now, Clock::time_point sent,
                 StreamState& state, RequestOutcome& outcome) {
  for (const std::string& event : events) {
    ++state.events;
    StreamChunk chunk = state.decoder.decode(event);
    if (chunk.done) {
      state.saw_done = true;
      continue;
    }
    if (chunk.error) throw std::runtime_error("error in stream: " + *chunk.error);
    if (!chunk.text.empty()) {
      if (!state.last_content) {
        outcome.ttft_s = seconds_between(sent, now);
      } else {
        outcome.itl_s.push_back(seconds_between(*state.last_content, now));
      }
      state.last_content = now;
      ++outcome.content_chunks;
    }
    if (chunk.completion_tokens) outcome.usage_completion_tokens = chunk.completion_tokens;
    if (chunk.prompt_tokens) outcome.usage_prompt_tokens = chunk.prompt_tokens;
    if (!chunk.finish_reason.empty()) state.saw_finish_reason = true;
  }
}

asio::awaitable<void> stream_once(ConnectionPool& pool, const StreamRequest& request, Clock::time_point sent,
                                  RequestOutcome& outcome) {
  const auto timeout = pool.timeout();
  http::request<http::string_body> message{http::verb::post, pool.url().base_path + request.path, 11};
  message.set(http::field::host, pool.url().host_header());
  message.set(http::field::user_agent, "sabre-loadtest");
  message.set(http::field::content_type, "application/json");
  message.set(http::field::accept, "text/event-stream");
  if (request.api_key) message.set(http::field::authorization, "Bearer " + *request.api_key);
  message.keep_alive(true);
  message.body() = request.body;
  message.prepare_payload();

  std::unique_ptr<HttpConnection> connection;
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    connection = co_await pool.acquire(reused, /*fresh=*/attempt > 0);
    parser.emplace();
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    connection->stream.expires_after(timeout);
    co_await http::async_write(connection->stream, message, asio::redirect_error(use_awaitable, ec));
    if (!ec) {
      connection->stream.expires_after(timeout);
      co_await http::async_read_header(connection->stream, connection->buffer, *parser,
                                       asio::redirect_error(use_awaitable, ec));
    }
    if (!ec) break;
    // A keep-alive connection the server closed just now (after the peek): once more on a new one.
    if (reused && attempt == 0 && ec != beast::error::timeout) continue;
    throw std::runtime_error(fmt::format("sending the request: {}", describe(ec, timeout)));
  }

  const auto status = parser->get().result_int();
  if (status != 200) {
    const std::string body = co_await read_whole_body(*connection, *parser, timeout);
    throw std::runtime_error(fmt::format("HTTP {}: {}", status, error_message_of(body)));
  }

  StreamState state;
  char buffer[16384];
  while (!parser->is_done()) {
    parser->get().body().data = buffer;
    parser->get().body().size = sizeof buffer;
    beast::error_code ec;
    connection->stream.expires_after(timeout);
    co_await http::async_read_some(connection->stream, connection->buffer, *parser,
                                   asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    const auto now = Clock::now();
    const size_t got = sizeof buffer - parser->get().body().size;
    take_events(state.sse.feed(std::string_view(buffer, got)), now, sent, state, outcome);
    if (ec) throw std::runtime_error(fmt::format("reading the stream: {}", describe(ec, timeout)));
  }
  take_events(state.sse.finish(), Clock::now(), sent, state, outcome);
  if (state.events == 0) {
    throw std::runtime_error("the response has no server-sent events (does the server stream?)");
  }
  if (!state.saw_done && !state.saw_finish_reason) {
    throw std::runtime_error("the stream ended without a finish_reason or [DONE]");
  }
  if (parser->keep_alive()) pool.release(std::move(connection));
}

// Servers may close a keep-alive connection while it sits idle (llama-server does so after a streamed
// response although it answered with keep-alive). A non-blocking peek sees the FIN without consuming
// anything: 0 bytes means closed; "would block" means open and quiet.
bool peer_has_closed(HttpConnection& connection) {
  if (connection.buffer.size() > 0) return true;  // unexpected bytes after the last response
  char byte = 0;
  const ssize_t got = ::recv(connection.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || got > 0;
}

}  // namespace

ConnectionPool::ConnectionPool(asio::any_io_executor executor, HttpUrl url, std::chrono::milliseconds timeout)
    : executor_(std::move(executor)), url_(std::move(url)), timeout_(timeout) {}

asio::awaitable<std::unique_ptr<HttpConnection>> ConnectionPool::open() {
  beast::error_code ec;
  if (!endpoints_) {
    asio::ip::tcp::resolver resolver(executor_);
    auto results = co_await resolver.async_resolve(url_.host, url_.port, asio::redirect_error(use_awaitable, ec));
    if (ec) throw ConnectionError(fmt::format("cannot resolve {}: {}", url_.host, ec.message()));
    endpoints_ = std::move(results);
  }
  auto connection = std::make_unique<HttpConnection>(executor_);
  connection->stream.expires_after(timeout_);
  co_await connection->stream.async_connect(*endpoints_, asio::redirect_error(use_awaitable, ec));
  if (ec) throw ConnectionError(fmt::format("cannot connect to {}: {}", url_.text(), describe(ec, timeout_)));
  connection->stream.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  ++opened_;
  co_return connection;
}

asio::awaitable<void> ConnectionPool::check_reachable() { idle_.push_back(co_await open()); }

asio::awaitable<std::unique_ptr<HttpConnection>> ConnectionPool::acquire(bool& reused, bool fresh) {
  while (!fresh && !idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    if (peer_has_closed(*connection)) continue;
    reused = true;
    co_return connection;
  }
  reused = false;
  co_return co_await open();
}

void ConnectionPool::release(std::unique_ptr<HttpConnection> connection) {
  idle_.push_back(std::move(connection));
}

asio::awaitable<RequestOutcome> run_stream_request(ConnectionPool& pool, const StreamRequest& request,
                                                   Clock::time_point epoch) {
  RequestOutcome outcome;
  const auto sent = Clock::now();
  outcome.start_s = seconds_between(epoch, sent);
  std::string error;
  try {
    co_await stream_once(pool, request, sent, outcome);
  } catch (const std::exception& e) {
    error = e.what();
  }
  outcome.e2e_s = seconds_between(sent, Clock::now());
  outcome.success = error.empty();
  outcome.error = std::move(error);
  co_return outcome;
}

}  // namespace sabre::loadtest
