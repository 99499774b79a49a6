#pragma once
// HTTP/1.1 responses as bytes. The server writes everything through one byte queue per connection
// (whole responses, a stream's head, its chunks), so responses are serialised here rather than by
// Beast's serializer: one path for plain and streamed answers, and testable without a socket.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/openai/api_error.hpp"

namespace sabre::http {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Retry-After, Allow)
};

// OpenAI's error object with its status; a 503 carries Retry-After.
HttpResponse error_response(const openai::ApiError& error);
HttpResponse json_response(std::string body, int status = 200);

// "HTTP/1.1 200 OK\r\n...Content-Length...\r\n\r\nbody". keep_alive false adds "Connection: close".
// `with_body` false answers a HEAD request: the same head (Content-Length included), no body bytes.
std::string serialize_response(const HttpResponse& response, bool keep_alive, bool with_body = true);

// How a stream's body is delimited: HTTP/1.1 clients get chunked transfer encoding (so the connection
// can be kept alive); HTTP/1.0 clients do not know chunked encoding, so their body is the raw events and
// ends when the server closes the connection.
enum class StreamFraming { chunked, until_close };

// The head of a server-sent-event stream. until_close always says "Connection: close".
std::string event_stream_head(bool keep_alive, StreamFraming framing = StreamFraming::chunked);
// `events` framed for the body: a chunk, or the bytes as they are.
std::string frame_events(std::string_view events, StreamFraming framing);
// What ends the body after the last events: the zero-length chunk, or nothing (the close ends it).
std::string_view end_of_stream(StreamFraming framing);
// One chunk of a chunked body ("" gives "": an empty chunk would end the body).
std::string encode_chunk(std::string_view data);
// The terminating zero-length chunk.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

std::string_view reason_phrase(int status);

}  // namespace sabre::http
