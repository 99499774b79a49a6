#include "fake_sse_server.hpp"

#include <fmt/format.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace sabre::loadtest::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

FakeSseServer::FakeSseServer(FakeBehaviour behaviour)
    : behaviour_(std::move(behaviour)), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] { accept_loop(); });
}

FakeSseServer::~FakeSseServer() {
  stopping_ = true;
  {
    // Wake the blocking accept with a connection of our own.
    boost::system::error_code ignored;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
  }
  accept_thread_.join();
  // Connection threads end when their client closes (the client's pool is gone by now).
  for (std::thread& t : connection_threads_) t.join();
}

std::vector<std::string> FakeSseServer::request_bodies() const {
  std::lock_guard lock(mutex_);
  return bodies_;
}

std::vector<std::string> FakeSseServer::authorization_headers() const {
  std::lock_guard lock(mutex_);
  return authorizations_;
}

void FakeSseServer::accept_loop() {
  while (true) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (stopping_ || ec) return;
    ++accepted_;
    std::lock_guard lock(mutex_);
    connection_threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
  }
}

namespace {

void write_http_chunk(tcp::socket& socket, std::string_view data) {
  const std::string framed = fmt::format("{:x}\r\n{}\r\n", data.size(), data);
  asio::write(socket, asio::buffer(framed));
}

// One SSE event in two HTTP chunks, cut in the middle of the JSON.
void write_event_split(tcp::socket& socket, const std::string& json) {
  const std::string event = "data: " + json + "\n\n";
  const size_t half = event.size() / 2;
  write_http_chunk(socket, std::string_view(event).substr(0, half));
  write_http_chunk(socket, std::string_view(event).substr(half));
}

}  // namespace

void FakeSseServer::serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (true) {
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    const std::string authorization(request[http::field::authorization]);
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(request.body());
      authorizations_.push_back(authorization);
    }
    try {
      if (behaviour_.api_key && authorization != "Bearer " + *behaviour_.api_key) {
        const std::string body = R"({"error":{"message":"invalid API key","type":"invalid_request_error"}})";
        const std::string response = fmt::format(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            body.size(), body);
        asio::write(socket, asio::buffer(response));
        continue;
      }
      asio::write(socket, asio::buffer(std::string_view(
                              "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n")));
      std::this_thread::sleep_for(behaviour_.first_delay);
      for (int i = 0; i < behaviour_.tokens; ++i) {
        if (i > 0) std::this_thread::sleep_for(behaviour_.gap);
        std::string chunk = fmt::format(R"({{"id":"c","choices":[{{"finish_reason":"","index":0,"text":" t{}"}}])", i);
        if (behaviour_.usage_in_every_chunk) {
          chunk += fmt::format(R"(,"usage":{{"prompt_tokens":5,"completion_tokens":{},"total_tokens":{}}})", i + 1,
                               i + 6);
        }
        chunk += R"(,"error_info":null})";
        write_event_split(socket, chunk);
        if (behaviour_.cut_stream_short) {
          socket.close();
          return;
        }
      }
      write_event_split(socket, R"({"id":"c","choices":[{"finish_reason":"length","index":0,"text":""}]})");
      write_http_chunk(socket, "data: [DONE]\n\n");
      asio::write(socket, asio::buffer(std::string_view("0\r\n\r\n")));
      if (behaviour_.close_after_response) {
        socket.close();
        return;
      }
    } catch (const boost::system::system_error&) {
      return;  // the client went away
    }
  }
}

}  // namespace sabre::loadtest::testing
