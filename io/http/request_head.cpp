#include "io/http/request_head.hpp"

#include <fmt/format.h>

namespace sabre::http {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_unreserved(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
bool is_sub_delim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }

// reg-name = *( unreserved / pct-encoded / sub-delims ); IPv4 addresses are reg-names by their characters.
bool valid_reg_name(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '%') {
      if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]"; checked by its characters, not parsed as an address.
bool valid_ip_literal(std::string_view inside) {
  if (inside.empty()) return false;
  if (inside.front() == 'v' || inside.front() == 'V') {
    const size_t dot = inside.find('.');
    if (dot == std::string_view::npos || dot < 2 || dot + 1 == inside.size()) return false;
    for (size_t i = 1; i < dot; ++i) {
      if (!is_hex(inside[i])) return false;
    }
    for (char c : inside.substr(dot + 1)) {
      if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
    }
    return true;
  }
  for (char c : inside) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return inside.find(':') != std::string_view::npos;
}

bool valid_port(std::string_view port) {
  for (char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_host_value(std::string_view value) {
  if (value.empty()) return true;
  if (value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos || !valid_ip_literal(value.substr(1, close - 1))) return false;
    const std::string_view rest = value.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && valid_port(rest.substr(1)));
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return valid_reg_name(value);
  return valid_reg_name(value.substr(0, colon)) && valid_port(value.substr(colon + 1));
}

std::optional<HeadProblem> check_request_head(const RequestHead& head, size_t max_header_fields) {
  if (head.field_count > max_header_fields) {
    return HeadProblem{431, fmt::format("the request has {} header fields, over the limit of {}", head.field_count,
                                        max_header_fields)};
  }
  if (head.hosts.size() > 1) {
    return HeadProblem{400, fmt::format("the request has {} Host header fields: exactly one is allowed",
                                        head.hosts.size())};
  }
  if (head.hosts.empty()) {
    if (head.version >= 11) return HeadProblem{400, "an HTTP/1.1 request needs a Host header field"};
    return std::nullopt;
  }
  if (!valid_host_value(head.hosts.front())) {
    return HeadProblem{400, fmt::format("the Host header field \"{}\" is not a valid host[:port]",
                                        head.hosts.front().substr(0, 200))};
  }
  return std::nullopt;
}

}  // namespace sabre::http
