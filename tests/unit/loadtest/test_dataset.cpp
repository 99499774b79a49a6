#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <set>

#include "dataset.hpp"
#include "request_body.hpp"

using namespace sabre::loadtest;

TEST_CASE("random token-id prompts: exactly IN ids from 256 up to the vocab size, reproducible", "[loadtest][dataset]") {
  RandomDatasetSpec spec;
  spec.input_tokens = 50;
  spec.output_tokens = 7;
  spec.vocab_size = 1000;
  const auto prompts = make_random_dataset(spec, 40, 11);
  REQUIRE(prompts.size() == 40);
  int32_t lowest = INT32_MAX, highest = 0;
  for (const BenchPrompt& p : prompts) {
    REQUIRE(p.prompt_ids.size() == 50);
    REQUIRE(p.text.empty());
    REQUIRE(p.input_tokens == 50);
    REQUIRE(p.output_tokens == 7);
    for (const int32_t id : p.prompt_ids) {
      lowest = std::min(lowest, id);
      highest = std::max(highest, id);
    }
  }
  REQUIRE(lowest >= kFirstRandomTokenId);
  REQUIRE(highest < 1000);
  REQUIRE(highest > 950);  // 2000 draws cover the top of the range
  REQUIRE(make_random_dataset(spec, 40, 11)[5].prompt_ids == prompts[5].prompt_ids);
  REQUIRE(make_random_dataset(spec, 40, 12)[5].prompt_ids != prompts[5].prompt_ids);
  REQUIRE(prompts[0].prompt_ids != prompts[1].prompt_ids);
}

TEST_CASE("random word prompts: IN space-separated words", "[loadtest][dataset]") {
  RandomDatasetSpec spec;
  spec.input_tokens = 30;
  spec.output_tokens = 3;
  spec.kind = RandomPromptKind::words;
  const auto prompts = make_random_dataset(spec, 3, 0);
  for (const BenchPrompt& p : prompts) {
    REQUIRE(p.prompt_ids.empty());
    REQUIRE(std::count(p.text.begin(), p.text.end(), ' ') == 29);
    REQUIRE(estimate_tokens(p.text) == 39);
  }
}

TEST_CASE("random dataset rejects empty lengths and tiny vocabularies", "[loadtest][dataset]") {
  RandomDatasetSpec spec;
  spec.input_tokens = 0;
  spec.output_tokens = 1;
  REQUIRE_THROWS_WITH(make_random_dataset(spec, 1, 0), Catch::Contains("IN"));
  spec.input_tokens = 1;
  spec.vocab_size = 100;
  REQUIRE_THROWS_WITH(make_random_dataset(spec, 1, 0), Catch::Contains("vocab size 100"));
}

TEST_CASE("token estimate: whitespace words x 1.3", "[loadtest][dataset]") {
  REQUIRE(estimate_tokens("") == 1);
  REQUIRE(estimate_tokens("one") == 1);
  REQUIRE(estimate_tokens("  one two\tthree\n four  ") == 5);  // 4 x 1.3 = 5.2
  REQUIRE(estimate_tokens("a b c d e f g h i j") == 13);
}

TEST_CASE("ShareGPT: first human turn is the prompt, the gpt reply sets max_tokens", "[loadtest][dataset]") {
  const std::string json = R"([
    {"id": "a", "conversations": [{"from": "human", "value": "What is up?"},
                                  {"from": "gpt", "value": "Not much at all, thanks for asking"}]},
    {"id": "b", "conversations": [{"from": "gpt", "value": "starts with gpt"}, {"from": "human", "value": "x"}]},
    {"id": "c", "conversations": [{"from": "human", "value": "only one turn"}]},
    {"id": "d", "conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "empty prompt"}]},
    {"id": "e"},
    {"id": "f", "conversations": [{"from": "user", "value": "Hi"}, {"from": "assistant", "value": "Hello"}]}
  ])";
  const auto prompts = parse_sharegpt(json, "test.json", 5, 1);
  REQUIRE(prompts.size() == 5);
  std::set<std::string> texts;
  for (const BenchPrompt& p : prompts) {
    texts.insert(p.text);
    REQUIRE(p.prompt_ids.empty());
    if (p.text == "What is up?") {
      REQUIRE(p.input_tokens == 4);    // 3 words
      REQUIRE(p.output_tokens == 9);   // 7 words x 1.3 = 9.1
    } else {
      REQUIRE(p.text == "Hi");
      REQUIRE(p.output_tokens == 1);
    }
  }
  REQUIRE(texts == std::set<std::string>{"What is up?", "Hi"});  // the two usable ones, repeated
  REQUIRE(prompts[0].text != prompts[1].text);                   // cycling alternates them
}

TEST_CASE("ShareGPT: malformed input names the file", "[loadtest][dataset]") {
  REQUIRE_THROWS_WITH(parse_sharegpt("[{", "bad.json", 1, 0), Catch::Contains("bad.json: not valid JSON"));
  REQUIRE_THROWS_WITH(parse_sharegpt("{}", "obj.json", 1, 0), Catch::Contains("obj.json: expected a JSON array"));
  REQUIRE_THROWS_WITH(parse_sharegpt("[]", "empty.json", 1, 0), Catch::Contains("empty.json: no conversation"));
  REQUIRE_THROWS_WITH(load_sharegpt("/nonexistent/sharegpt.json", 1, 0), Catch::Contains("/nonexistent/sharegpt.json"));
}

TEST_CASE("request bodies: ids, text, chat, model and ignore_eos", "[loadtest][dataset]") {
  simdjson::dom::parser parser;
  BenchPrompt ids;
  ids.prompt_ids = {300, 301, 302};
  ids.output_tokens = 16;
  const std::string body = make_request_body(ids, {ApiKind::completions, std::nullopt, true});
  simdjson::dom::element root = parser.parse(body);
  REQUIRE(root["prompt"].get_array().size() == 3);
  REQUIRE(int64_t(root["prompt"].at(2)) == 302);
  REQUIRE(int64_t(root["max_tokens"]) == 16);
  REQUIRE(bool(root["stream"]) == true);
  REQUIRE(bool(root["ignore_eos"]) == true);
  REQUIRE(bool(root["stream_options"]["include_usage"]) == true);
  REQUIRE(root["model"].error() == simdjson::NO_SUCH_FIELD);

  BenchPrompt text;
  text.text = "say \"hi\"\n";
  text.output_tokens = 4;
  const std::string chat = make_request_body(text, {ApiKind::chat, std::string("m1"), false});
  root = parser.parse(chat);
  REQUIRE(std::string_view(root["messages"].at(0)["content"]) == "say \"hi\"\n");
  REQUIRE(std::string_view(root["messages"].at(0)["role"]) == "user");
  REQUIRE(std::string_view(root["model"]) == "m1");
  REQUIRE(root["ignore_eos"].error() == simdjson::NO_SUCH_FIELD);
  root = parser.parse(make_request_body(text, {ApiKind::completions, std::nullopt, false}));
  REQUIRE(std::string_view(root["prompt"]) == "say \"hi\"\n");
  REQUIRE_THROWS_WITH(make_request_body(ids, {ApiKind::chat, std::nullopt, false}), Catch::Contains("chat"));
}
