// The HTTP request reader as sabre-server runs it: Beast's request parser with the server's limits, fed
// in pieces as a socket delivers them, several pipelined requests in a row, and the RFC 9112 head checks
// on every head it frames. Any crash, sanitizer report or inconsistency (a head check that throws) fails.
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <string_view>

#include "io/http/request_head.hpp"

namespace bhttp = boost::beast::http;

namespace {

void check_head(const bhttp::request<bhttp::string_body>& request) {
  const sabre::http::RequestHead head = sabre::http::request_head_of(request);
  const auto problem = sabre::http::check_request_head(head, 100);
  if (problem && problem->status != 400 && problem->status != 431) __builtin_trap();
  for (std::string_view host : head.hosts) (void)sabre::http::valid_host_value(host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks how the bytes arrive: one piece, or pieces of 1 to 255 bytes.
  const size_t piece = data[0] == 0 ? size : data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  for (int request = 0; request < 4 && !input.empty(); ++request) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024);
    parser.header_limit(16 * 1024);
    parser.eager(true);
    std::string pending;
    size_t offset = 0;
    boost::beast::error_code ec;
    bool head_checked = false;
    while (!parser.is_done() && !ec) {
      if (offset == input.size()) break;  // the client stopped sending
      const size_t n = std::min(piece, input.size() - offset);
      pending.append(input.substr(offset, n));
      offset += n;
      const size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == bhttp::error::need_more) ec = {};
      pending.erase(0, used);
      if (!ec && parser.is_header_done() && !head_checked) {
        check_head(parser.get());
        head_checked = true;
      }
    }
    if (ec || !parser.is_done()) return 0;
    input.remove_prefix(offset - pending.size());
  }
  return 0;
}
