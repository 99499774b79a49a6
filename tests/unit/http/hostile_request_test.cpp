// Malformed and hostile requests, at the HTTP level and in the JSON bodies: each gets the right status
// (and names the field when it is a body's fault), and afterwards the server still answers correctly.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "raw_http_client.hpp"
#include "test_server.hpp"

using namespace sabre::http::testing;

namespace {

uint16_t port() { return TestServer::instance().port(); }

struct Hostile {
  std::string name;
  std::string bytes;
  int status;
  std::string must_contain;  // in the body; "" for no check
};

std::string post(const std::string& target, const std::string& body) {
  return make_request("POST", target, body, {kAuth});
}

std::vector<Hostile> http_level_cases() {
  return {
      {"garbage request line", "GARBAGE\r\n\r\n", 400, "malformed HTTP request"},
      {"bad version", "GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400, ""},
      {"header without colon", "GET /health HTTP/1.1\r\nHost x\r\n\r\n", 400, ""},
      {"content-length not a number", "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, ""},
      {"negative content-length", "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, ""},
      {"conflicting content-lengths", "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
       ""},
      {"headers over the limit", "GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431, ""},
      {"body over the limit", post("/v1/completions", std::string(70000, ' ')), 413, "request_too_large"},
      {"declared body over the limit",
       "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: TOKEN\r\nContent-Length: 999999999\r\n\r\n{", 413, ""},
      {"bad chunk size", "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, ""},
      {"chunked over the limit",
       "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11170\r\n" + std::string(70000, 'a') + "\r\n0\r\n\r\n",
       413, ""},
      {"control byte in the method", std::string("G\x01T /health HTTP/1.1\r\n\r\n"), 400, ""},
      {"NUL in a header", std::string("GET /health HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 34), 400, ""},
      {"unknown method", "BREW /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: TOKEN\r\n\r\n", 405, ""},
      {"path traversal", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found_error"},
      {"long unknown target", "GET /" + std::string(8000, 'x') + " HTTP/1.1\r\nHost: x\r\n\r\n", 404, ""},
      {"HTTP/1.1 without Host", "GET /health HTTP/1.1\r\n\r\n", 400, "Host"},
      {"two Host fields", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"},
      {"malformed Host", "GET /health HTTP/1.1\r\nHost: a b:c\r\n\r\n", 400, "Host"},
      {"Host with userinfo", "GET /health HTTP/1.1\r\nHost: user@x\r\n\r\n", 400, "Host"},
      {"HTTP/1.0 with two Hosts", "GET /health HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, "Host"},
      {"POST without Host, body unread", "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "Host"},
      {"IPv6 Host with port", "GET /health HTTP/1.1\r\nHost: [::1]:8081\r\n\r\n", 200, "ok"},
      {"empty Host", "GET /health HTTP/1.1\r\nHost:\r\n\r\n", 200, "ok"},
      {"101 header fields", [] {
         std::string r = "GET /health HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 100; ++i) r += "X-F" + std::to_string(i) + ": 1\r\n";
         return r + "\r\n";
       }(), 431, "header fields"},
      {"100 header fields", [] {
         std::string r = "GET /health HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 99; ++i) r += "X-F" + std::to_string(i) + ": 1\r\n";
         return r + "\r\n";
       }(), 200, "ok"},
      {"delete on a post route", make_request("DELETE", "/v1/chat/completions", "", {kAuth}), 405, ""},
      {"query string on /health", make_request("GET", "/health?probe=1"), 200, "ok"},
      {"HTTP/1.0 health", "GET /health HTTP/1.0\r\n\r\n", 200, "ok"},
  };
}

std::vector<Hostile> body_cases() {
  std::vector<Hostile> cases;
  auto completion = [&](std::string name, std::string body, int status, std::string contains = "") {
    cases.push_back({"completion: " + name, post("/v1/completions", body), status, std::move(contains)});
  };
  completion("empty body", "", 400);
  completion("null", "null", 400);
  completion("array", "[]", 400);
  completion("number", "42", 400);
  completion("string", "\"prompt\"", 400);
  completion("truncated", R"({"prompt":"a")", 400);
  completion("trailing garbage", R"({"prompt":"a"} x)", 400);
  completion("missing value", R"({"prompt":})", 400);
  completion("invalid UTF-8", "{\"prompt\":\"\xff\xfe\"}", 400);
  completion("lone surrogate", R"({"prompt":"\ud800"})", 400);
  completion("deep nesting", std::string(5000, '[') + std::string(5000, ']'), 400);
  completion("deep nesting in an ignored field",
             R"({"prompt":"a","x":)" + std::string(3000, '[') + std::string(3000, ']') + "}", 400, "too deep");
  completion("no prompt", R"({"max_tokens":2})", 400, "prompt");
  completion("prompt a number", R"({"prompt":123})", 400, "prompt");
  completion("prompt empty list", R"({"prompt":[]})", 400, "prompt");
  completion("prompt empty inner list", R"({"prompt":[[]]})", 400, "prompt");
  completion("negative token id", R"({"prompt":[-1]})", 400, "prompt");
  completion("token id past the vocabulary", R"({"prompt":[999999999]})", 400, "prompt");
  completion("max_tokens 0", R"({"prompt":"a","max_tokens":0})", 400, "max_tokens");
  completion("max_tokens negative", R"({"prompt":"a","max_tokens":-5})", 400, "max_tokens");
  completion("max_tokens a string", R"({"prompt":"a","max_tokens":"abc"})", 400, "max_tokens");
  completion("max_tokens huge", R"({"prompt":"a","max_tokens":1e30})", 400, "max_tokens");
  completion("max_tokens fractional", R"({"prompt":"a","max_tokens":1.5})", 400, "max_tokens");
  completion("temperature negative", R"({"prompt":"a","temperature":-1})", 400, "temperature");
  completion("temperature a string", R"({"prompt":"a","temperature":"hot"})", 400, "temperature");
  completion("top_p 0", R"({"prompt":"a","top_p":0})", 400, "top_p");
  completion("top_p 2", R"({"prompt":"a","top_p":2})", 400, "top_p");
  completion("top_k -2", R"({"prompt":"a","top_k":-2})", 400, "top_k");
  completion("n 0", R"({"prompt":"a","n":0})", 400, "\"param\":\"n\"");
  completion("n too many", R"({"prompt":"a","n":100000})", 400, "\"param\":\"n\"");
  completion("stream yes", R"({"prompt":"a","stream":"yes"})", 400, "stream");
  completion("logprobs 50", R"({"prompt":"a","logprobs":50})", 400, "logprobs");
  completion("stop a number", R"({"prompt":"a","stop":5})", 400, "stop");
  completion("seed a string", R"({"prompt":"a","seed":"x"})", 400, "seed");
  completion("logit_bias bad key", R"({"prompt":"a","logit_bias":{"abc":1}})", 400, "logit_bias");
  completion("logit_bias out of range", R"({"prompt":"a","logit_bias":{"1":1000}})", 400, "logit_bias");
  completion("presence_penalty 5", R"({"prompt":"a","presence_penalty":5})", 400, "presence_penalty");
  completion("repetition_penalty 0", R"({"prompt":"a","repetition_penalty":0})", 400, "repetition_penalty");
  completion("temperature 3", R"({"prompt":"a","temperature":3})", 400, "temperature");
  completion("five stop strings", R"({"prompt":"a","stop":["1","2","3","4","5"]})", 400, "\"param\":\"stop\"");
  completion("guided_regex", R"x({"prompt":"a","guided_regex":"a(?=b)"})x", 400, "guided_regex");
  completion("another model", R"({"prompt":"a","model":"gpt-4"})", 400, "model_not_found");
  completion("suffix", R"({"prompt":"a","suffix":"x"})", 400, "suffix");
  completion("best_of above n", R"({"prompt":"a","best_of":3})", 400, "best_of");
  completion("prompt too long", R"({"prompt":")" + std::string(300, 'a') + "\"}", 400, "prompt");
  completion("prompt plus max_tokens too long", R"({"prompt":"abc","max_tokens":1000})", 400, "max_tokens");
  completion("min_tokens above max_tokens", R"({"prompt":"a","max_tokens":2,"min_tokens":5})", 400, "min_tokens");

  auto chat = [&](std::string name, std::string body, int status, std::string contains = "") {
    cases.push_back({"chat: " + name, post("/v1/chat/completions", body), status, std::move(contains)});
  };
  chat("no messages", R"({"max_tokens":2})", 400, "messages");
  chat("messages a string", R"({"messages":"hi"})", 400, "messages");
  chat("message without role", R"({"messages":[{"content":"hi"}]})", 400, "messages");
  chat("unknown role", R"({"messages":[{"role":"wizard","content":"hi"}]})", 400, "messages");
  chat("image part", R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 400,
       "messages");
  chat("content a number", R"({"messages":[{"role":"user","content":5}]})", 400, "messages");
  chat("tool_choice required", R"({"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"})", 400,
       "tool_choice");
  chat("tool message without tool_call_id",
       R"({"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"ok"}]})", 400, "tool_call_id");
  chat("response_format json_schema without a name",
       R"({"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{}}})",
       400, "response_format.json_schema.name");
  chat("top_logprobs without logprobs", R"({"messages":[{"role":"user","content":"hi"}],"top_logprobs":2})", 400,
       "top_logprobs");

  cases.push_back({"tokenize: empty object", post("/tokenize", "{}"), 400, ""});
  cases.push_back({"tokenize: prompt a list of objects", post("/tokenize", R"({"prompt":[{}]})"), 400, "prompt"});
  cases.push_back({"detokenize: tokens a string", post("/detokenize", R"({"tokens":"abc"})"), 400, "tokens"});
  cases.push_back({"detokenize: negative token", post("/detokenize", R"({"tokens":[-1]})"), 400, "tokens"});
  return cases;
}

}  // namespace

TEST_CASE("hostile requests: each answered with its status, and the server keeps serving") {
  std::vector<Hostile> cases = http_level_cases();
  for (Hostile& c : body_cases()) cases.push_back(std::move(c));
  REQUIRE(cases.size() >= 50);
  for (const Hostile& c : cases) {
    INFO(c.name);
    const RawResponse response = send_raw(port(), c.bytes);
    CHECK(response.status == c.status);
    if (c.status >= 400) CHECK(response.body.find("\"error\":{\"message\":") != std::string::npos);
    if (!c.must_contain.empty()) CHECK(response.body.find(c.must_contain) != std::string::npos);
  }
  // Still healthy, and still generating.
  CHECK(request(port(), "GET", "/health").status == 200);
  const RawResponse completion =
      request(port(), "POST", "/v1/completions", R"({"prompt":"still here?","max_tokens":3,"ignore_eos":true})", {kAuth});
  CHECK(completion.status == 200);
  CHECK(completion.body.find(R"("completion_tokens":3)") != std::string::npos);
  CHECK(TestServer::instance().metric("sabre:kv_cache_blocks_used") == 0);
}
