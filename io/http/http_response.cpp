#include "io/http/http_response.hpp"

#include <fmt/format.h>

namespace sabre::http {

HttpResponse error_response(const openai::ApiError& error) {
  HttpResponse response;
  response.status = error.status;
  response.body = openai::error_body(error);
  // The queue drains at the engine's pace; a second is a polite first retry for a client.
  if (error.status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

HttpResponse json_response(std::string body, int status) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string serialize_response(const HttpResponse& response, bool keep_alive, bool with_body) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: sabre\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                                response.status, reason_phrase(response.status), response.content_type,
                                response.body.size());
  for (const auto& [name, value] : response.headers) out += fmt::format("{}: {}\r\n", name, value);
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (with_body) out += response.body;
  return out;
}

std::string event_stream_head(bool keep_alive, StreamFraming framing) {
  if (framing == StreamFraming::until_close) {
    return "HTTP/1.1 200 OK\r\nServer: sabre\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Connection: close\r\n\r\n";
  }
  return fmt::format(
      "HTTP/1.1 200 OK\r\nServer: sabre\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Transfer-Encoding: chunked\r\nConnection: {}\r\n\r\n",
      keep_alive ? "keep-alive" : "close");
}

std::string frame_events(std::string_view events, StreamFraming framing) {
  return framing == StreamFraming::chunked ? encode_chunk(events) : std::string(events);
}

std::string_view end_of_stream(StreamFraming framing) {
  return framing == StreamFraming::chunked ? kLastChunk : std::string_view{};
}

std::string encode_chunk(std::string_view data) {
  if (data.empty()) return {};
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

}  // namespace sabre::http
