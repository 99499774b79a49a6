// RFC 9112's checks of a request head, as plain functions: Host rules and the header field cap.
#include <catch2/catch.hpp>

#include "io/http/request_head.hpp"

using namespace sabre::http;

TEST_CASE("request head: Host values as RFC 3986 authorities without userinfo") {
  for (const char* good : {"", "localhost", "localhost:8081", "127.0.0.1", "127.0.0.1:80", "example.com:",
                           "[::1]", "[::1]:8081", "[2001:db8::7]", "[v1.fe80::a+en1]", "my-host_1.~x", "a%20b",
                           "sub!$&'()*+,;=host"}) {
    INFO(good);
    CHECK(valid_host_value(good));
  }
  for (const char* bad : {"exa mple.com", "host:port", "host:80:81", "user@host", "[::1", "[]", "[zz::1]",
                          "[::1]x", "[::1]:8o", "a%2", "a%zz", "/path", "host/", "[v1.]", "[vx.a]", "\"host\""}) {
    INFO(bad);
    CHECK_FALSE(valid_host_value(bad));
  }
}

TEST_CASE("request head: exactly one Host in HTTP/1.1, at most one in HTTP/1.0") {
  RequestHead head;
  head.field_count = 1;
  auto status_of = [&](const RequestHead& h) {
    const auto problem = check_request_head(h, 100);
    return problem ? problem->status : 0;
  };
  head.hosts = {"localhost"};
  CHECK(status_of(head) == 0);
  head.hosts = {};
  head.field_count = 0;
  const auto missing = check_request_head(head, 100);
  REQUIRE(missing);
  CHECK(missing->status == 400);
  CHECK(missing->message.find("Host") != std::string::npos);
  head.version = 10;
  CHECK(status_of(head) == 0);
  head.hosts = {"a", "b"};
  head.field_count = 2;
  CHECK(status_of(head) == 400);
  head.version = 11;
  CHECK(status_of(head) == 400);
  head.hosts = {"bad host"};
  head.field_count = 1;
  const auto malformed = check_request_head(head, 100);
  REQUIRE(malformed);
  CHECK(malformed->message.find("bad host") != std::string::npos);
}

TEST_CASE("request head: more header fields than the cap is a 431, the cap itself passes") {
  RequestHead head;
  head.hosts = {"localhost"};
  head.field_count = 100;
  CHECK_FALSE(check_request_head(head, 100));
  head.field_count = 101;
  const auto problem = check_request_head(head, 100);
  REQUIRE(problem);
  CHECK(problem->status == 431);
  CHECK(problem->message.find("101") != std::string::npos);
}
