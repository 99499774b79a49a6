#include <catch2/catch.hpp>

#include "options.hpp"

using namespace sabre::loadtest;

namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "sabre-loadtest");
  return parse_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("options: the issue's command line", "[loadtest][options]") {
  const Options o = parse({"--url", "http://127.0.0.1:9000", "--api-key", "K", "--num-requests", "20",
                           "--request-rate", "4.5", "--dataset", "random:128:32", "--seed", "7", "--json",
                           "out.json", "--model", "smol", "--vocab-size=49152"});
  REQUIRE(o.url.host == "127.0.0.1");
  REQUIRE(o.url.port == "9000");
  REQUIRE(o.api_key == "K");
  REQUIRE(o.num_requests == 20);
  REQUIRE(o.request_rate == 4.5);
  REQUIRE_FALSE(o.max_concurrency);
  REQUIRE(o.dataset_random);
  REQUIRE(o.random_spec.input_tokens == 128);
  REQUIRE(o.random_spec.output_tokens == 32);
  REQUIRE(o.random_spec.vocab_size == 49152);
  REQUIRE(o.random_spec.kind == RandomPromptKind::token_ids);
  REQUIRE(o.ignore_eos);  // random datasets always ask for exact lengths
  REQUIRE(o.seed == 7);
  REQUIRE(o.json_path == "out.json");
  REQUIRE(o.model == "smol");
  REQUIRE(o.api == ApiKind::completions);
}

TEST_CASE("options: chat, sharegpt, concurrency", "[loadtest][options]") {
  Options o = parse({"--num-requests", "3", "--max-concurrency", "2", "--dataset", "sharegpt:/d/sg.json",
                     "--endpoint", "/v1/chat/completions", "--request-rate", "inf"});
  REQUIRE(o.api == ApiKind::chat);
  REQUIRE_FALSE(o.dataset_random);
  REQUIRE(o.sharegpt_path == "/d/sg.json");
  REQUIRE(o.max_concurrency == 2);
  REQUIRE(std::isinf(*o.request_rate));
  REQUIRE_FALSE(o.ignore_eos);
  o = parse({"--num-requests", "3", "--max-concurrency", "2", "--dataset", "random:4:4", "--endpoint",
             "/v1/chat/completions"});
  REQUIRE(o.random_spec.kind == RandomPromptKind::words);  // chat needs text
  REQUIRE(o.url.text() == "http://127.0.0.1:8081");
  REQUIRE(parse({"--help"}).help);
}

TEST_CASE("options: every mistake names its flag", "[loadtest][options]") {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--num-requests", "0", "--max-concurrency", "1", "--dataset", "random:1:1"}, "--num-requests"},
      {{"--num-requests", "ten", "--max-concurrency", "1", "--dataset", "random:1:1"}, "--num-requests"},
      {{"--num-requests", "1", "--max-concurrency", "0", "--dataset", "random:1:1"}, "--max-concurrency"},
      {{"--num-requests", "1", "--request-rate", "-1", "--dataset", "random:1:1"}, "--request-rate"},
      {{"--num-requests", "1", "--request-rate", "abc", "--dataset", "random:1:1"}, "--request-rate"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1"}, "--dataset"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:0:4"}, "--dataset random:IN"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "file.json"}, "--dataset"},
      {{"--num-requests", "1", "--max-concurrency", "1"}, "--dataset"},
      {{"--max-concurrency", "1", "--dataset", "random:1:1"}, "--num-requests"},
      {{"--num-requests", "1", "--dataset", "random:1:1"}, "--request-rate or --max-concurrency"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--url", "https://x"}, "--url"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--url", "http://h:99999"}, "--url"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--endpoint", "/v2"}, "--endpoint"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--vocab-size", "10"}, "--vocab-size"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--random-prompt", "x"}, "--random-prompt"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--timeout", "0"}, "--timeout"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--frobnicate"}, "--frobnicate"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset", "random:1:1", "--no-progress=1"}, "--no-progress"},
      {{"--num-requests", "1", "--max-concurrency", "1", "--dataset"}, "--dataset: missing value"},
  };
  for (const auto& [args, flag] : cases) {
    INFO(flag);
    REQUIRE_THROWS_AS(parse(args), UsageError);
    REQUIRE_THROWS_WITH(parse(args), Catch::Contains(flag));
  }
}

TEST_CASE("URLs: host, port, IPv6, base path", "[loadtest][options]") {
  HttpUrl u = parse_http_url("http://example.com");
  REQUIRE(u.host == "example.com");
  REQUIRE(u.port == "80");
  REQUIRE(u.host_header() == "example.com");
  u = parse_http_url("http://[::1]:8081/proxy/");
  REQUIRE(u.host == "::1");
  REQUIRE(u.port == "8081");
  REQUIRE(u.base_path == "/proxy");
  REQUIRE(u.host_header() == "[::1]:8081");
  REQUIRE(u.text() == "http://[::1]:8081/proxy");
  REQUIRE_THROWS_WITH(parse_http_url("ftp://x"), Catch::Contains("expected http://"));
  REQUIRE_THROWS_WITH(parse_http_url("http://:80"), Catch::Contains("no host"));
  REQUIRE_THROWS_WITH(parse_http_url("http://h:0"), Catch::Contains("port"));
}
