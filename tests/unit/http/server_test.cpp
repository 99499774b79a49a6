// The HTTP server end to end, in-process on a real engine (tiny fixture model), over real sockets.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <thread>

#include "raw_http_client.hpp"
#include "test_server.hpp"

using namespace sabre::http::testing;

namespace {

uint16_t port() { return TestServer::instance().port(); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("server: /health is open, /v1/models needs the key") {
  const RawResponse health = request(port(), "GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"ok"})");
  const RawResponse denied = request(port(), "GET", "/v1/models");
  CHECK(denied.status == 401);
  CHECK(contains(denied.body, R"("type":"authentication_error")"));
  const RawResponse models = request(port(), "GET", "/v1/models", "", {"Authorization: TOKEN"});
  CHECK(models.status == 200);
  CHECK(contains(models.body, R"("id":"qwen3_qknorm")"));
}

TEST_CASE("server: a non-streamed completion is one text_completion object") {
  const RawResponse response = request(port(), "POST", "/v1/completions",
                                       R"({"prompt":"What is the capital of Canada?","max_tokens":5,"ignore_eos":true})",
                                       {kAuth});
  CHECK(response.status == 200);
  CHECK(response.header("content-type") == "application/json");
  CHECK(contains(response.body, R"("object":"text_completion")"));
  CHECK(contains(response.body, R"("finish_reason":"length")"));
  CHECK(contains(response.body, R"("usage":{"prompt_tokens":31,"completion_tokens":5,"total_tokens":36})"));
}

TEST_CASE("server: a streamed completion has BladeLLM's chunks, a final chunk and [DONE]") {
  const RawResponse response = request(
      port(), "POST", "/v1/completions",
      R"({"prompt":"What is the capital of Canada?", "stream":"true", "max_tokens":6, "ignore_eos":true})", {kAuth});
  CHECK(response.status == 200);
  CHECK(response.header("content-type") == "text/event-stream");
  CHECK(response.header("transfer-encoding") == "chunked");
  REQUIRE(response.complete);
  const auto events = sse_payloads(response.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(contains(events.front(), R"("choices":[{"finish_reason":"","index":0,"logprobs":null,"text":)"));
  CHECK(contains(events.front(), R"("object":"text_completion")"));
  CHECK(contains(events.front(), R"("error_info":null)"));
  const std::string& last = events[events.size() - 2];
  CHECK(contains(last, R"("finish_reason":"length")"));
  CHECK(contains(last, R"("usage":{"prompt_tokens":31,"completion_tokens":6,"total_tokens":37})"));
}

TEST_CASE("server: several prompts and n > 1 in one request") {
  const RawResponse response = request(
      port(), "POST", "/v1/completions",
      R"({"prompt":["a","bb"],"n":2,"max_tokens":3,"ignore_eos":true,"temperature":0.8,"seed":1})", {kAuth});
  CHECK(response.status == 200);
  for (int i = 0; i < 4; ++i) CHECK(contains(response.body, "\"index\":" + std::to_string(i)));
  CHECK(contains(response.body, R"("completion_tokens":12)"));
}

TEST_CASE("server: a streamed chat sends the role, content deltas, the finish and [DONE]") {
  const RawResponse response =
      request(port(), "POST", "/v1/chat/completions",
              R"({"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":4,"ignore_eos":true})", {kAuth});
  CHECK(response.status == 200);
  const auto events = sse_payloads(response.body);
  REQUIRE(events.size() >= 3);
  CHECK(contains(events.front(), R"("delta":{"role":"assistant","content":""})"));
  CHECK(contains(events.front(), R"("object":"chat.completion.chunk")"));
  CHECK(contains(events[events.size() - 2], R"("finish_reason":"length")"));
  CHECK(events.back() == "[DONE]");
  const RawResponse plain = request(port(), "POST", "/v1/chat/completions",
                                    R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":2})", {kAuth});
  CHECK(plain.status == 200);
  CHECK(contains(plain.body, R"("object":"chat.completion")"));
}

TEST_CASE("server: errors: 404, 405, 413, malformed JSON, a prompt too long") {
  CHECK(request(port(), "GET", "/nope").status == 404);
  const RawResponse wrong_method = request(port(), "GET", "/v1/completions", "", {kAuth});
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.header("allow") == "POST");
  const RawResponse too_large = request(port(), "POST", "/v1/completions",
                                        R"({"prompt":")" + std::string(100000, 'a') + "\"}", {kAuth});
  CHECK(too_large.status == 413);
  CHECK(contains(too_large.body, "request_too_large"));
  const RawResponse malformed = request(port(), "POST", "/v1/completions", R"({"prompt": "x",)", {kAuth});
  CHECK(malformed.status == 400);
  CHECK(contains(malformed.body, R"("type":"invalid_request_error")"));
  const RawResponse long_prompt =
      request(port(), "POST", "/v1/completions", R"({"prompt":")" + std::string(300, 'a') + "\"}", {kAuth});
  CHECK(long_prompt.status == 400);
}

TEST_CASE("server: keep-alive serves several requests on one connection, pipelined too") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  const std::string body = R"({"prompt":"hello","max_tokens":2})";
  std::string requests;
  for (int i = 0; i < 3; ++i) {
    requests += "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: TOKEN\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  boost::asio::write(socket, boost::asio::buffer(requests));
  std::string raw;
  std::array<char, 4096> buffer{};
  int answered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (answered < 3 && std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    const size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    raw.append(buffer.data(), n);
    size_t consumed = 0;
    while (true) {
      const RawResponse response = parse_response(raw, &consumed);
      if (!response.complete) break;
      CHECK(response.status == 200);
      CHECK(response.header("connection") == "keep-alive");
      ++answered;
      raw.erase(0, consumed);
    }
  }
  CHECK(answered == 3);
}

TEST_CASE("server: a client that disconnects mid-stream frees its KV blocks") {
  const double tokens_before = TestServer::instance().metric("sabre:generation_tokens_total");
  // 64 samples x 200 tokens take the tiny model most of a second on this machine; hang up early.
  const std::string body = R"({"prompt":"Hi","stream":true,"max_tokens":200,"ignore_eos":true,"n":64})";
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
    boost::asio::write(socket, boost::asio::buffer(make_request("POST", "/v1/completions", body, {kAuth})));
    std::array<char, 4096> buffer{};
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(buffer), ec);  // the stream has started
    REQUIRE_FALSE(ec);
    CHECK(std::string(buffer.data(), 15) == "HTTP/1.1 200 OK");
    socket.close();
  }
  double used = -1;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    used = TestServer::instance().metric("sabre:kv_cache_blocks_used");
    if (used == 0 && TestServer::instance().metric("sabre:num_requests_running") == 0) break;
  }
  CHECK(used == 0);
  const double generated = TestServer::instance().metric("sabre:generation_tokens_total") - tokens_before;
  INFO("tokens generated before the abort: " << generated);
  CHECK(generated < 64 * 200);
  CHECK(TestServer::instance().metric("sabre:http_requests_total{status=\"499\"}") >= 1);
}

TEST_CASE("server: /metrics is Prometheus text with the engine's and the HTTP layer's figures") {
  REQUIRE(request(port(), "GET", "/health").status == 200);
  const RawResponse metrics = request(port(), "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(contains(metrics.header("content-type"), "text/plain"));
  CHECK(contains(metrics.body, "# TYPE sabre:kv_cache_blocks_used gauge"));
  CHECK(contains(metrics.body, "sabre:http_requests_total{status=\"200\"}"));
}

TEST_CASE("server: Expect: 100-continue gets its interim answer before the body is sent") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  const std::string body = R"({"prompt":"hi","max_tokens":2})";
  boost::asio::write(socket, boost::asio::buffer("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: TOKEN\r\n"
                                                 "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                                                 std::to_string(body.size()) + "\r\n\r\n"));
  std::array<char, 4096> buffer{};
  boost::system::error_code ec;
  const size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
  REQUIRE_FALSE(ec);
  CHECK(std::string(buffer.data(), n) == "HTTP/1.1 100 Continue\r\n\r\n");
  boost::asio::write(socket, boost::asio::buffer(body));
  std::string raw;
  while (true) {
    const size_t got = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    raw.append(buffer.data(), got);
  }
  CHECK(parse_response(raw).status == 200);
}

TEST_CASE("server: HEAD answers carry headers and no body, so pipelined answers stay framed") {
  // A HEAD on a GET route, a HEAD on a POST route (405), a HEAD to nowhere (404), then a GET: the bytes
  // back must be four answers, each head followed at once by the next (or by the GET's body).
  const std::string raw = exchange_until_close(
      port(), "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
              "HEAD /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n"
              "HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::vector<std::string> heads;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t end = raw.find("\r\n\r\n", pos);
    REQUIRE(end != std::string::npos);
    heads.push_back(raw.substr(pos, end - pos));
    pos = end + 4;
  }
  CHECK(heads[0].rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(contains(heads[0], "Content-Length: 15\r\n"));  // what GET's {"status":"ok"} would be
  CHECK(heads[1].rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(contains(heads[1], "Allow: POST"));
  CHECK(heads[2].rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(heads[3].rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(raw.substr(pos) == R"({"status":"ok"})");
}

TEST_CASE("server: an HTTP/1.0 client gets its stream as raw events ended by the close, not chunked") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  const std::string body = R"({"prompt":"hi","max_tokens":3,"ignore_eos":true,"stream":true})";
  boost::asio::write(socket, boost::asio::buffer("POST /v1/completions HTTP/1.0\r\nAuthorization: TOKEN\r\n"
                                                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  std::array<char, 4096> buffer{};
  boost::system::error_code ec;
  std::string raw;
  while (true) {  // the server ends the body by closing
    const size_t got = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    raw.append(buffer.data(), got);
  }
  CHECK(ec == boost::asio::error::eof);
  const size_t head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = raw.substr(0, head_end);
  const std::string events = raw.substr(head_end + 4);
  CHECK(contains(head, "200 OK"));
  CHECK(contains(head, "Content-Type: text/event-stream"));
  CHECK(contains(head, "Connection: close"));
  CHECK_FALSE(contains(head, "Transfer-Encoding"));
  // The body starts with an event, not a chunk size, and ends with [DONE] and no zero-length chunk.
  CHECK(events.rfind("data: {", 0) == 0);
  CHECK(events.size() >= 14);
  CHECK(events.substr(events.size() - 14) == "data: [DONE]\n\n");
  const auto payloads = sse_payloads(events);
  REQUIRE(payloads.size() >= 3);
  CHECK(payloads.back() == "[DONE]");
  CHECK(contains(payloads[payloads.size() - 2], R"("finish_reason":"length")"));
  CHECK(contains(payloads[payloads.size() - 2], R"("completion_tokens":3)"));
}

TEST_CASE("server: a client that stalls in its headers is cut off after the request timeout") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  boost::asio::write(socket, boost::asio::buffer(std::string("POST /v1/completions HTTP/1.1\r\nHost: x\r\n")));
  const auto start = std::chrono::steady_clock::now();
  std::array<char, 256> buffer{};
  boost::system::error_code ec;
  socket.read_some(boost::asio::buffer(buffer), ec);  // blocks until the server closes
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(ec);  // closed, without an answer (a server that never closed would hang this read: a failure)
  CHECK(waited > 1.5);
  // Others were served meanwhile and still are.
  CHECK(request(port(), "GET", "/health").status == 200);
}

TEST_CASE("server: a reader that stops reading does not hold up other clients") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket stalled(io);
  stalled.connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  // A long stream nobody reads: its bytes pile up in the kernel buffers, then in the session's queue.
  boost::asio::write(stalled, boost::asio::buffer(make_request(
      "POST", "/v1/completions", R"({"prompt":"Hi","stream":true,"max_tokens":200,"ignore_eos":true,"n":16})", {kAuth})));
  const RawResponse other =
      request(port(), "POST", "/v1/completions", R"({"prompt":"other","max_tokens":4,"ignore_eos":true})", {kAuth});
  // Answered while the stalled stream's bytes wait: a write that blocked the server's threads would
  // leave this request hanging for good (a failure, by CTest's timeout), not merely slower.
  CHECK(other.status == 200);
  stalled.close();
}
