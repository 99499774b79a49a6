// The router without sockets: routes, methods, authentication, and which requests become engine jobs.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "io/http/http_response.hpp"
#include "io/http/router.hpp"
#include "test_server.hpp"

using namespace sabre;
using namespace sabre::http;

namespace {

const openai::ModelContext& context() { return testing::TestServer::instance().context(); }

HttpResponse as_response(const RouteResult& result) {
  REQUIRE(std::holds_alternative<HttpResponse>(result));
  return std::get<HttpResponse>(result);
}

}  // namespace

TEST_CASE("router: unknown paths are 404 and wrong methods 405 with Allow") {
  const Router router(context(), "");
  const HttpResponse missing = as_response(router.route({"GET", "/v2/nothing", "", ""}));
  CHECK(missing.status == 404);
  CHECK(missing.body.find("\"type\":\"not_found_error\"") != std::string::npos);
  const HttpResponse wrong = as_response(router.route({"GET", "/v1/completions", "", ""}));
  CHECK(wrong.status == 405);
  REQUIRE(wrong.headers.size() == 1);
  CHECK(wrong.headers[0] == std::pair<std::string, std::string>{"Allow", "POST"});
  const HttpResponse post_health = as_response(router.route({"POST", "/health", "", ""}));
  CHECK(post_health.status == 405);
  CHECK(post_health.headers[0] == std::pair<std::string, std::string>{"Allow", "GET, HEAD"});
}

TEST_CASE("router: HEAD is routed as GET, and on a POST route it is a 405") {
  const Router router(context(), "");
  const HttpResponse health = as_response(router.route({"HEAD", "/health", "", ""}));
  CHECK(health.status == 200);
  CHECK(health.body == as_response(router.route({"GET", "/health", "", ""})).body);
  CHECK(std::holds_alternative<MetricsQuery>(router.route({"HEAD", "/metrics", "", ""})));
  CHECK(as_response(router.route({"HEAD", "/v1/completions", "", ""})).status == 405);
  CHECK(as_response(router.route({"HEAD", "/nowhere", "", ""})).status == 404);
}

TEST_CASE("router: the API key guards /v1/* only, as TOKEN or Bearer TOKEN") {
  const Router router(context(), "TOKEN");
  CHECK(as_response(router.route({"GET", "/v1/models", "", ""})).status == 401);
  CHECK(as_response(router.route({"GET", "/v1/models", "Bearer WRONG", ""})).status == 401);
  CHECK(as_response(router.route({"GET", "/v1/models", "TOKENX", ""})).status == 401);
  CHECK(as_response(router.route({"GET", "/v1/models", "TOKEN", ""})).status == 200);
  CHECK(as_response(router.route({"GET", "/v1/models", "Bearer TOKEN", ""})).status == 200);
  CHECK(as_response(router.route({"GET", "/v1/models", "bearer  TOKEN ", ""})).status == 200);
  CHECK(as_response(router.route({"GET", "/health", "", ""})).status == 200);
  const HttpResponse denied = as_response(router.route({"POST", "/v1/completions", "", "{}"}));
  CHECK(denied.body.find("\"code\":\"invalid_api_key\"") != std::string::npos);
  // Without a key configured, nothing is asked.
  CHECK(as_response(Router(context(), "").route({"GET", "/v1/models", "", ""})).status == 200);
}

TEST_CASE("router: generation bodies become plans, bad ones 400 naming the field") {
  const Router router(context(), "");
  const RouteResult plan = router.route({"POST", "/v1/completions?x=1", "", R"({"prompt":"hi","max_tokens":3})"});
  REQUIRE(std::holds_alternative<openai::CompletionPlan>(plan));
  CHECK(std::get<openai::CompletionPlan>(plan).requests.at(0).max_tokens == 3);
  const HttpResponse bad = as_response(router.route({"POST", "/v1/completions", "", R"({"prompt":"hi","max_tokens":-1})"}));
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"param\":\"max_tokens\"") != std::string::npos);
  CHECK(as_response(router.route({"POST", "/v1/completions", "", "{not json"})).status == 400);
  CHECK(std::holds_alternative<MetricsQuery>(router.route({"GET", "/metrics", "", ""})));
  const HttpResponse tokens = as_response(router.route({"POST", "/tokenize", "", R"({"prompt":"ab"})"}));
  CHECK(tokens.status == 200);
  CHECK(tokens.body.find("\"count\":") != std::string::npos);
}

TEST_CASE("responses: serialised with Content-Length, chunks in hex, 503 with Retry-After") {
  HttpResponse response = json_response("{}", 200);
  CHECK(serialize_response(response, true) ==
        "HTTP/1.1 200 OK\r\nServer: sabre\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: keep-alive\r\n\r\n{}");
  CHECK(serialize_response(response, false).find("Connection: close\r\n") != std::string::npos);
  CHECK(encode_chunk(std::string(26, 'x')) == "1a\r\n" + std::string(26, 'x') + "\r\n");
  CHECK(encode_chunk("").empty());
  const HttpResponse busy = error_response(openai::ApiError::overloaded("queue full"));
  CHECK(busy.status == 503);
  CHECK(serialize_response(busy, true).find("Retry-After: 1\r\n") != std::string::npos);
  // HEAD: the same head, Content-Length of the body it would have had, and no body.
  const std::string head_only = serialize_response(response, true, /*with_body=*/false);
  CHECK(head_only == serialize_response(response, true).substr(0, head_only.size()));
  CHECK(head_only.ends_with("\r\n\r\n"));
  CHECK(head_only.find(fmt::format("Content-Length: {}\r\n", response.body.size())) != std::string::npos);
}
