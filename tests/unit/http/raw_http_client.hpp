#pragma once
// A deliberately simple HTTP client for the server tests: it sends raw bytes (so that tests can send
// malformed requests too), reads until the server closes or the response is complete, and splits the
// answer into status, headers and a de-chunked body.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sabre::http::testing {

struct RawResponse {
  int status = 0;                             // 0: no status line came back
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                           // de-chunked
  std::string raw;                            // everything received
  bool complete = false;                      // the whole body arrived

  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

// Parses one response from the start of `raw` (chunked or Content-Length); `consumed` is set to its size.
RawResponse parse_response(const std::string& raw, size_t* consumed = nullptr);

// Opens a connection, sends `bytes`, reads until one response is complete, the server closes, or
// `timeout` passes; closes.
RawResponse send_raw(uint16_t port, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Sends `bytes` and returns everything received until the server closes or `timeout` passes (for
// pipelined requests, whose answers must follow one another exactly).
std::string exchange_until_close(uint16_t port, const std::string& bytes,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A well-formed request with "Connection: close".
std::string make_request(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::vector<std::string>& extra_headers = {});
RawResponse request(uint16_t port, const std::string& method, const std::string& target,
                    const std::string& body = "", const std::vector<std::string>& extra_headers = {});

// The `data: ` payloads of a server-sent-event body, in order.
std::vector<std::string> sse_payloads(const std::string& body);

}  // namespace sabre::http::testing
