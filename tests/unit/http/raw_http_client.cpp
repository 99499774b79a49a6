#include "raw_http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace sabre::http::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;

RawResponse parse_response(const std::string& raw, size_t* consumed) {
  RawResponse response;
  response.raw = raw;
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  if (raw.rfind("HTTP/1.1 ", 0) == 0 && raw.size() >= 12) response.status = std::stoi(raw.substr(9, 3));
  size_t line = raw.find("\r\n") + 2;
  while (line < head_end) {
    const size_t end = raw.find("\r\n", line);
    const std::string header = raw.substr(line, end - line);
    const size_t colon = header.find(':');
    if (colon != std::string::npos) {
      std::string name = header.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      size_t value = colon + 1;
      while (value < header.size() && header[value] == ' ') ++value;
      response.headers[name] = header.substr(value);
    }
    line = end + 2;
  }
  size_t pos = head_end + 4;
  if (response.headers["transfer-encoding"] == "chunked") {
    while (true) {
      const size_t size_end = raw.find("\r\n", pos);
      if (size_end == std::string::npos) return response;
      const size_t size = std::stoul(raw.substr(pos, size_end - pos), nullptr, 16);
      if (raw.size() < size_end + 2 + size + 2) return response;
      response.body += raw.substr(size_end + 2, size);
      pos = size_end + 2 + size + 2;
      if (size == 0) break;
    }
  } else {
    const size_t length = response.headers.count("content-length") ? std::stoul(response.headers["content-length"]) : 0;
    if (raw.size() < pos + length) return response;
    response.body = raw.substr(pos, length);
    pos += length;
  }
  response.complete = true;
  if (consumed) *consumed = pos;
  return response;
}

namespace {

// Reads until `done(raw)`, the server closes, or the deadline.
template <class Done>
std::string send_and_read(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout, Done done) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  net::write(socket, net::buffer(bytes), ec);
  std::string raw;
  std::array<char, 8192> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  socket.non_blocking(true);
  while (std::chrono::steady_clock::now() < deadline) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    if (ec == net::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (ec) break;
    raw.append(buffer.data(), n);
    if (done(raw)) break;
  }
  return raw;
}

}  // namespace

RawResponse send_raw(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  return parse_response(
      send_and_read(port, bytes, timeout, [](const std::string& raw) { return parse_response(raw).complete; }));
}

std::string exchange_until_close(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  return send_and_read(port, bytes, timeout, [](const std::string&) { return false; });
}

std::string make_request(const std::string& method, const std::string& target, const std::string& body,
                         const std::vector<std::string>& extra_headers) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, target);
  for (const std::string& header : extra_headers) out += header + "\r\n";
  if (!body.empty() || method == "POST") {
    out += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  return out + "\r\n" + body;
}

RawResponse request(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                    const std::vector<std::string>& extra_headers) {
  return send_raw(port, make_request(method, target, body, extra_headers));
}

std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> payloads;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    payloads.push_back(body.substr(pos + 6, end - pos - 6));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return payloads;
}

}  // namespace sabre::http::testing
