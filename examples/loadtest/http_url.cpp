#include "http_url.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sabre::loadtest {

std::string HttpUrl::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  const std::string name = ipv6 ? "[" + host + "]" : host;
  return port == "80" ? name : name + ":" + port;
}

std::string HttpUrl::text() const { return "http://" + host_header() + base_path; }

HttpUrl parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, 8) == "https://") {
    throw std::invalid_argument(fmt::format("'{}': https is not supported, use http://", url));
  }
  if (url.substr(0, scheme.size()) != scheme) {
    throw std::invalid_argument(fmt::format("'{}': expected http://host[:port][/path]", url));
  }
  std::string_view rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);

  HttpUrl out;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument(fmt::format("'{}': unclosed '['", url));
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument(fmt::format("'{}': junk after ']'", url));
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw std::invalid_argument(fmt::format("'{}': no host", url));
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      throw std::invalid_argument(fmt::format("'{}': port must be a number from 1 to 65535", url));
    }
    out.port = std::string(port);
  }
  out.base_path = std::string(path);
  return out;
}

}  // namespace sabre::loadtest
