#include "io/http/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "io/http/generation_sink_actor.hpp"
#include "io/http/request_head.hpp"

namespace sabre::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// The connection as a generation's output: every call is posted to the connection's strand.
class SessionOutput final : public GenerationOutput {
 public:
  explicit SessionOutput(std::shared_ptr<HttpSession> session) : session_(std::move(session)) {}
  void respond(HttpResponse response, const GenerationSummary& summary) override {
    session_->post_respond(std::move(response), summary);
  }
  void stream_begin(std::string events) override { session_->post_stream(std::move(events), true); }
  void stream_write(std::string events) override { session_->post_stream(std::move(events), false); }
  void stream_end(std::string events, const GenerationSummary& summary) override {
    session_->post_stream_end(std::move(events), summary);
  }

 private:
  std::shared_ptr<HttpSession> session_;
};

std::string_view sv(boost::beast::string_view text) { return {text.data(), text.size()}; }

constexpr size_t kWatchChunk = 4096;
constexpr size_t kMaxPipelinedBytes = 64 * 1024;
constexpr const char* kPrometheusType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket socket, ServerState& state)
    : stream_(std::move(socket)), state_(state) {
  beast::error_code ec;
  const auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

void HttpSession::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

void HttpSession::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(state_.config.max_body_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(state_.config.max_header_bytes));
  stream_.expires_after(state_.config.request_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header_read(ec); });
}

void HttpSession::on_header_read(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    on_request_read(ec);
    return;
  }
  if (auto problem = check_request_head(request_head_of(parser_->get()), state_.config.max_header_fields)) {
    openai::ApiError error = openai::ApiError::invalid_request("", std::move(problem->message));
    error.status = problem->status;
    answer_and_close(error);
    return;
  }
  auto read_body = [self = shared_from_this()] {
    bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                      [self](beast::error_code ec, size_t) { self->on_request_read(ec); });
  };
  // curl sends "Expect: 100-continue" with bodies over 1 KiB and waits a second for this interim answer.
  const auto expect = parser_->get().find(bhttp::field::expect);
  if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue") && !parser_->is_done()) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue),
                     [self = shared_from_this(), read_body](beast::error_code ec, size_t) {
                       if (ec || self->closed_) return self->close();
                       read_body();
                     });
    return;
  }
  read_body();
}

void HttpSession::on_request_read(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      close();  // the client closed the connection, between requests or in the middle of one
      return;
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
        ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      openai::ApiError error;
      if (ec == bhttp::error::body_limit) {
        error = openai::ApiError::payload_too_large(
            fmt::format("request body over the limit of {} bytes", state_.config.max_body_bytes));
      } else if (ec == bhttp::error::header_limit) {
        error = openai::ApiError::invalid_request("", fmt::format("request headers over the limit of {} bytes",
                                                                   state_.config.max_header_bytes));
        error.status = 431;
      } else {
        error = openai::ApiError::invalid_request("", fmt::format("malformed HTTP request: {}", ec.message()));
      }
      answer_and_close(error);
      return;
    }
    // end_of_stream, timeout, reset: the client is gone or idle; nothing to answer.
    close();
    return;
  }
  handle_request();
}

void HttpSession::begin_response() {
  if (!in_response_) state_.responses.begin();
  in_response_ = true;
}

void HttpSession::end_response() {
  if (in_response_) state_.responses.end();
  in_response_ = false;
}

void HttpSession::answer_and_close(const openai::ApiError& error) {
  // The request cannot be (or is not) read to its end: answer what the parser got, then close.
  begin_response();
  response_ended_ = false;
  keep_alive_ = false;
  started_ = std::chrono::steady_clock::now();
  request_number_ = state_.next_id++;
  method_ = std::string(sv(parser_->get().method_string()));
  path_ = std::string(target_path(sv(parser_->get().target())));
  head_ = method_ == "HEAD";
  if (method_.empty()) method_ = "-";
  if (path_.empty()) path_ = "-";
  status_ = 0;
  summary_ = {};
  respond(error_response(error));
}

void HttpSession::handle_request() {
  auto& request = parser_->get();
  begin_response();
  response_ended_ = false;
  keep_alive_ = request.keep_alive();
  framing_ = request.version() >= 11 ? StreamFraming::chunked : StreamFraming::until_close;
  started_ = std::chrono::steady_clock::now();
  request_number_ = state_.next_id++;
  method_ = std::string(sv(request.method_string()));
  path_ = std::string(target_path(sv(request.target())));
  head_ = method_ == "HEAD";
  status_ = 0;
  summary_ = {};

  if (state_.draining) {
    keep_alive_ = false;
    respond(error_response(openai::ApiError::overloaded("the server is shutting down")));
    return;
  }
  const auto authorization = request.find(bhttp::field::authorization);
  RequestView view{sv(request.method_string()), sv(request.target()),
                   authorization == request.end() ? std::string_view{} : sv(authorization->value()), request.body()};
  try {
    RouteResult result = state_.router.route(view);
    if (auto* response = std::get_if<HttpResponse>(&result)) {
      respond(*response);
    } else if (std::holds_alternative<MetricsQuery>(result)) {
      query_metrics();
    } else {
      start_generation(std::move(result));
    }
  } catch (const std::exception& e) {
    spdlog::error("request {} {} {}: {}", request_number_, method_, path_, e.what());
    respond(error_response(openai::ApiError::internal()));
  }
}

void HttpSession::start_generation(RouteResult&& plan) {
  auto output = std::make_shared<SessionOutput>(shared_from_this());
  std::shared_ptr<GenerationExchange> exchange;
  if (auto* completion = std::get_if<openai::CompletionPlan>(&plan)) {
    exchange = std::make_shared<GenerationExchange>(std::move(*completion), state_.context.tokenizer, output);
  } else {
    exchange = std::make_shared<GenerationExchange>(std::move(std::get<openai::ChatPlan>(plan)),
                                                    state_.context.tokenizer, output);
  }
  const uint64_t id = request_number_;
  state_.generations.reserve(id);
  sink_ = spawn_generation_sink(state_.system, state_.engine, exchange,
                                [&generations = state_.generations, id] { generations.remove(id); });
  state_.generations.attach(id, sink_);
  // No timeout while generating: the engine sets the pace, the watch notices a client that leaves.
  stream_.expires_never();
  watch_for_disconnect();
}

void HttpSession::query_metrics() {
  auto self = shared_from_this();
  state_.system.spawn([self, engine = state_.engine](caf::event_based_actor* actor) {
    actor->request(engine, std::chrono::seconds(10), metrics_atom::value)
        .then(
            [self](const std::string& text) {
              HttpResponse response;
              response.content_type = kPrometheusType;
              response.body = text + self->state_.statuses.prometheus();
              self->post_respond(std::move(response), {});
            },
            [self](const caf::error& error) {
              spdlog::error("metrics: the engine did not answer: {}", self->state_.system.render(error));
              self->post_respond(error_response(openai::ApiError::internal()), {});
            });
  });
}

void HttpSession::post_respond(HttpResponse response, GenerationSummary summary) {
  net::post(stream_.get_executor(), [self = shared_from_this(), response = std::move(response), summary] {
    self->respond(response, summary);
  });
}

void HttpSession::post_stream(std::string events, bool begin) {
  net::post(stream_.get_executor(), [self = shared_from_this(), events = std::move(events), begin] {
    if (!self->in_response_) return;
    if (begin) {
      self->status_ = 200;
      // An HTTP/1.0 stream ends with the connection, so it cannot be kept alive.
      if (self->framing_ == StreamFraming::until_close) self->keep_alive_ = false;
      self->write(event_stream_head(self->keep_alive_, self->framing_) + frame_events(events, self->framing_));
    } else {
      self->write(frame_events(events, self->framing_));
    }
  });
}

void HttpSession::post_stream_end(std::string events, GenerationSummary summary) {
  net::post(stream_.get_executor(), [self = shared_from_this(), events = std::move(events), summary] {
    if (!self->in_response_ || self->response_ended_) return;
    self->summary_ = summary;
    self->response_ended_ = true;
    self->write(frame_events(events, self->framing_) + std::string(end_of_stream(self->framing_)));
    self->finish_response_if_done();
  });
}

void HttpSession::respond(const HttpResponse& response, const GenerationSummary& summary) {
  if (!in_response_ || response_ended_) return;
  status_ = response.status;
  summary_ = summary;
  response_ended_ = true;
  if (!watching_) stream_.expires_after(state_.config.write_timeout);
  write(serialize_response(response, keep_alive_, /*with_body=*/!head_));
  finish_response_if_done();
}

void HttpSession::write(std::string bytes) {
  if (closed_ || bytes.empty()) return;
  queued_bytes_ += bytes.size();
  if (queued_bytes_ > state_.config.max_queued_bytes) {
    spdlog::warn("request {}: the client reads too slowly ({} bytes waiting); dropping it", request_number_,
                 queued_bytes_);
    client_gone();
    return;
  }
  queue_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void HttpSession::write_next() {
  writing_ = true;
  net::async_write(stream_, net::buffer(queue_.front()),
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->on_written(ec); });
}

void HttpSession::on_written(beast::error_code ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    client_gone();
    return;
  }
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (!queue_.empty()) {
    write_next();
    return;
  }
  finish_response_if_done();
}

void HttpSession::finish_response_if_done() {
  if (closed_ || !in_response_ || !response_ended_ || writing_ || !queue_.empty()) return;
  end_response();
  sink_ = caf::actor{};
  log_access();
  if (!keep_alive_) {
    linger_and_close();
  } else if (watching_) {
    // The watch's read is still pending: cancel it; its handler reads the next request.
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  } else {
    read_request();
  }
}

void HttpSession::watch_for_disconnect() {
  if (watching_ || closed_ || buffer_.size() >= kMaxPipelinedBytes) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(kWatchChunk), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->on_watch(ec, n);
  });
}

void HttpSession::on_watch(beast::error_code ec, size_t bytes) {
  watching_ = false;
  if (closed_) return;
  if (!ec) buffer_.commit(bytes);  // a pipelined request: kept for the parser
  if (in_response_) {
    if (!ec) {
      watch_for_disconnect();
    } else if (response_ended_) {
      // The whole answer is queued and the client has closed its side (a client that reads the
      // response and closes at once can get here before our write completes): let the write finish;
      // only a failed write means the answer was lost.
      keep_alive_ = false;
      stream_.expires_after(state_.config.write_timeout);  // no longer watched: bound the write
    } else {
      client_gone();
    }
    return;
  }
  if (ec && ec != net::error::operation_aborted) {
    close();
  } else if (keep_alive_) {
    read_request();
  } else {
    linger_and_close();
  }
}

void HttpSession::client_gone() {
  if (closed_) return;
  if (sink_) caf::anon_send(sink_, client_gone_atom::value);
  sink_ = caf::actor{};
  if (in_response_) {
    end_response();
    status_ = 499;  // nginx's "client closed request"
    log_access();
  }
  close();
}

void HttpSession::log_access() {
  state_.statuses.count(status_);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  if (summary_.speculative_proposed > 0) {
    // Speculative decoding: accepted of proposed tokens, and the acceptance rate.
    spdlog::info("#{} {} {} {} {} prompt={} completion={} ttft={:.1f}ms spec={}/{} ({:.0f}%) {:.1f}ms", request_number_,
                 remote_, method_, path_, status_, summary_.prompt_tokens, summary_.completion_tokens,
                 std::max(0.0, summary_.time_to_first_token) * 1e3, summary_.speculative_accepted,
                 summary_.speculative_proposed,
                 100.0 * static_cast<double>(summary_.speculative_accepted) /
                     static_cast<double>(summary_.speculative_proposed),
                 ms);
  } else if (summary_.time_to_first_token >= 0) {
    spdlog::info("#{} {} {} {} {} prompt={} completion={} ttft={:.1f}ms {:.1f}ms", request_number_, remote_, method_,
                 path_, status_, summary_.prompt_tokens, summary_.completion_tokens,
                 summary_.time_to_first_token * 1e3, ms);
  } else {
    spdlog::info("#{} {} {} {} {} prompt={} completion={} {:.1f}ms", request_number_, remote_, method_, path_, status_,
                 summary_.prompt_tokens, summary_.completion_tokens, ms);
  }
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  end_response();  // a response cut short by the connection's end is no longer in flight
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void HttpSession::linger_and_close() {
  // Closing with unread request bytes in the kernel would reset the connection and could destroy the
  // answer in flight (a 413): stop sending, then drain what the client still sends, briefly.
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(2));
  drain();
}

void HttpSession::drain() {
  stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec || self->closed_) self->close();
    else self->drain();
  });
}

}  // namespace sabre::http
