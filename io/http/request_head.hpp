#pragma once
// The checks RFC 9112 asks of a request's head once the parser has framed it, kept apart from the
// socket (only request_head_of reads Beast's fields) so they can be tested as plain functions: the Host header (exactly one in HTTP/1.1, at most
// one in HTTP/1.0, and a well-formed authority), and a cap on the number of header fields (a parser's
// byte limit alone lets through thousands of tiny fields, each costing a map entry).

#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre::http {

struct RequestHead {
  unsigned version = 11;                 // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::vector<std::string_view> hosts;   // every Host field's value, in order
  size_t field_count = 0;                // every header field, Host included
};

struct HeadProblem {
  int status = 400;  // 400, or 431 for too many fields
  std::string message;
};

// RFC 3986's authority without userinfo: host [":" port], host an IP literal in brackets, an IPv4
// address or a reg-name. An empty value is allowed (RFC 9112 3.2: a target without authority).
bool valid_host_value(std::string_view value);

std::optional<HeadProblem> check_request_head(const RequestHead& head, size_t max_header_fields);

// What check_request_head needs of a request Beast has framed (its version and fields).
template <class Request>
RequestHead request_head_of(const Request& request) {
  RequestHead head;
  head.version = request.version();
  for (const auto& field : request) {
    ++head.field_count;
    if (field.name() == boost::beast::http::field::host) head.hosts.emplace_back(field.value().data(), field.value().size());
  }
  return head;
}

}  // namespace sabre::http
