#pragma once
// The server address a load test targets: plain http only (TLS is the job of a proxy in front of the
// server, and would add the proxy's cost to every figure).

#include <string>
#include <string_view>

namespace sabre::loadtest {

struct HttpUrl {
  std::string host;         // name or address, without brackets for IPv6
  std::string port = "80";
  std::string base_path;    // "" or "/prefix" without a trailing '/'; the endpoint is appended

  std::string host_header() const;  // host[:port] as the Host header spells it
  std::string text() const;         // http://host:port/base_path, for messages
};

// Accepts http://host[:port][/path]; throws std::invalid_argument saying what is wrong.
HttpUrl parse_http_url(std::string_view url);

}  // namespace sabre::loadtest
