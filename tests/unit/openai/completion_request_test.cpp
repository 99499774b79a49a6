// parse_completion_request: every field's happy path and its 400s, the four prompt shapes.

#include <catch2/catch.hpp>

#include "io/openai/completion_request.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::check_completion_rejected;
using sabre::openai::test::completion_error;
using sabre::openai::test::qwen3_context;

namespace {

CompletionPlan parse_ok(const std::string& body) {
  auto plan = parse_completion_request(body, qwen3_context());
  if (!plan) FAIL("unexpected error: " << plan.error().message << " (param " << plan.error().param << ")");
  return *plan;
}

}  // namespace

TEST_CASE("completion: a string prompt is tokenized with the tokenizer's special tokens", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = parse_ok(R"({"prompt":"Hello world"})");
  REQUIRE(plan.requests.size() == 1);
  const auto expected = qwen3_context().tokenizer->encode("Hello world", true);
  CHECK(plan.requests[0].prompt_token_ids == expected);
  CHECK(plan.prompts[0].text == "Hello world");
  CHECK(plan.requests[0].max_tokens == 16);
  CHECK(plan.requests[0].n == 1);
  CHECK_FALSE(plan.stream);
  CHECK(plan.model == "qwen3-test");
  CHECK(plan.id.rfind("cmpl-", 0) == 0);
  CHECK(plan.id.size() == 5 + 32);
  CHECK(plan.created > 1600000000);
}

TEST_CASE("completion: the four prompt shapes", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const auto& tok = *qwen3_context().tokenizer;
  SECTION("list of strings: one request per prompt") {
    const CompletionPlan plan = parse_ok(R"({"prompt":["a b","c"],"n":2})");
    REQUIRE(plan.requests.size() == 2);
    CHECK(plan.requests[0].prompt_token_ids == tok.encode("a b", true));
    CHECK(plan.requests[1].prompt_token_ids == tok.encode("c", true));
    CHECK(plan.requests[1].n == 2);
    CHECK(plan.num_choices() == 4);
    CHECK(plan.choice_index(1, 0) == 2);
    CHECK(plan.choice_index(1, 1) == 3);
  }
  SECTION("list of token ids: one prompt, echo text decoded") {
    const CompletionPlan plan = parse_ok(R"({"prompt":[9707,1879]})");
    REQUIRE(plan.requests.size() == 1);
    CHECK(plan.requests[0].prompt_token_ids == std::vector<int32_t>{9707, 1879});
    CHECK(plan.prompts[0].text == tok.decode(std::vector<int32_t>{9707, 1879}, false));
  }
  SECTION("list of lists of token ids") {
    const CompletionPlan plan = parse_ok(R"({"prompt":[[1,2,3],[4]]})");
    REQUIRE(plan.requests.size() == 2);
    CHECK(plan.requests[0].prompt_token_ids == std::vector<int32_t>{1, 2, 3});
    CHECK(plan.requests[1].prompt_token_ids == std::vector<int32_t>{4});
  }
  SECTION("add_special_tokens false") {
    const CompletionPlan plan = parse_ok(R"({"prompt":"Hi","add_special_tokens":false})");
    CHECK(plan.requests[0].prompt_token_ids == tok.encode("Hi", false));
  }
}

TEST_CASE("completion: bad prompts are 400s naming the element", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  check_completion_rejected(R"({})", "prompt");
  check_completion_rejected(R"({"prompt":null})", "prompt");
  check_completion_rejected(R"({"prompt":""})", "prompt");
  check_completion_rejected(R"({"prompt":[]})", "prompt");
  check_completion_rejected(R"({"prompt":7})", "prompt");
  check_completion_rejected(R"({"prompt":{"a":1}})", "prompt");
  check_completion_rejected(R"({"prompt":[1,"x"]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[1,-2]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[1,1.5]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[1,999999999]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":["a",3]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":["a",""]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[[1],[]]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[[1],"a"]})", "prompt[1]");
  check_completion_rejected(R"({"prompt":[[1],[2,"x"]]})", "prompt[1][1]");
}

TEST_CASE("completion: sampling fields reach the GenerationRequest", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = parse_ok(R"({
    "prompt":"x", "model":"qwen3-test", "max_tokens":32, "temperature":0.5, "top_p":0.9, "top_k":40,
    "min_p":0.05, "n":3, "seed":-1, "presence_penalty":0.5, "frequency_penalty":-0.5,
    "repetition_penalty":1.1, "min_tokens":4, "ignore_eos":true, "stop":["\n\n","END"],
    "stop_token_ids":[151643], "logit_bias":{"100":5,"7":-100.0}, "user":"u1",
    "include_stop_str_in_output":true, "skip_special_tokens":false, "unknown_field":{"ignored":true}})");
  const GenerationRequest& r = plan.requests.at(0);
  CHECK(r.max_tokens == 32);
  CHECK(r.sampling.temperature == 0.5);
  CHECK(r.sampling.top_p == 0.9);
  CHECK(r.sampling.top_k == 40);
  CHECK(r.sampling.min_p == 0.05);
  CHECK(r.n == 3);
  CHECK(r.has_seed);
  CHECK(r.sampling.seed == UINT64_MAX);
  CHECK(r.sampling.presence_penalty == 0.5);
  CHECK(r.sampling.frequency_penalty == -0.5);
  CHECK(r.sampling.repetition_penalty == Approx(1.1));
  CHECK(r.sampling.min_tokens == 4);
  CHECK(r.ignore_eos);
  CHECK(r.stop == std::vector<std::string>{"\n\n", "END"});
  CHECK(r.sampling.stop_token_ids == std::vector<int32_t>{151643});
  CHECK(r.sampling.logit_bias.at(100) == 5.0f);
  CHECK(r.sampling.logit_bias.at(7) == -100.0f);
  CHECK(r.include_stop_str_in_output);
  CHECK_FALSE(r.skip_special_tokens);
  CHECK_FALSE(r.logprobs);
  CHECK(plan.n == 3);
}

TEST_CASE("completion: defaults and lenient spellings", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  SECTION("no seed: the engine draws one") { CHECK_FALSE(parse_ok(R"({"prompt":"x"})").requests[0].has_seed); }
  SECTION("null means default") {
    const auto r = parse_ok(R"({"prompt":"x","max_tokens":null,"temperature":null,"stop":null})").requests[0];
    CHECK(r.max_tokens == 16);
    CHECK(r.sampling.temperature == 1.0);
    CHECK(r.stop.empty());
  }
  SECTION("integral floats are integers") { CHECK(parse_ok(R"({"prompt":"x","max_tokens":8.0})").requests[0].max_tokens == 8); }
  SECTION("top_k -1 disables") { CHECK(parse_ok(R"({"prompt":"x","top_k":-1})").requests[0].sampling.top_k == 0); }
  SECTION("stop as one string") { CHECK(parse_ok(R"({"prompt":"x","stop":"##"})").requests[0].stop == std::vector<std::string>{"##"}); }
  SECTION("stream true and \"true\"") {
    CHECK(parse_ok(R"({"prompt":"x","stream":true})").stream);
    CHECK(parse_ok(R"({"prompt":"x","stream":"true"})").stream);
    CHECK_FALSE(parse_ok(R"({"prompt":"x","stream":"false"})").stream);
    CHECK_FALSE(parse_ok(R"({"prompt":"x","stream":false})").stream);
  }
  SECTION("stream_options.include_usage") {
    const auto plan = parse_ok(R"({"prompt":"x","stream":true,"stream_options":{"include_usage":true}})");
    CHECK(plan.include_usage);
  }
  SECTION("logprobs, echo, return_tokens_as_token_ids") {
    const auto plan = parse_ok(R"({"prompt":"x","logprobs":3,"return_tokens_as_token_ids":true})");
    REQUIRE(plan.logprobs);
    CHECK(*plan.logprobs == 3);
    CHECK(plan.requests[0].logprobs);
    CHECK(plan.requests[0].sampling.top_logprobs == 3);
    CHECK(plan.return_tokens_as_token_ids);
    CHECK(parse_ok(R"({"prompt":"x","echo":true})").echo);
    CHECK(parse_ok(R"({"prompt":"x","logprobs":0})").logprobs == std::optional<int64_t>(0));
  }
  SECTION("the model field may be left out or empty") { parse_ok(R"({"prompt":"x","model":""})"); }
}

TEST_CASE("completion: wrong types and ranges are 400s naming the field", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  check_completion_rejected(R"({"prompt":"x","max_tokens":0})", "max_tokens");
  check_completion_rejected(R"({"prompt":"x","max_tokens":"16"})", "max_tokens");
  check_completion_rejected(R"({"prompt":"x","max_tokens":1.5})", "max_tokens");
  check_completion_rejected(R"({"prompt":"x","max_tokens":1e300})", "max_tokens");
  check_completion_rejected(R"({"prompt":"x","max_tokens":18446744073709551615})", "max_tokens");
  check_completion_rejected(R"({"prompt":"x","temperature":-0.1})", "temperature");
  check_completion_rejected(R"({"prompt":"x","temperature":"hot"})", "temperature");
  check_completion_rejected(R"({"prompt":"x","top_p":0})", "top_p");
  check_completion_rejected(R"({"prompt":"x","top_p":1.01})", "top_p");
  check_completion_rejected(R"({"prompt":"x","top_k":-2})", "top_k");
  check_completion_rejected(R"({"prompt":"x","min_p":1.5})", "min_p");
  check_completion_rejected(R"({"prompt":"x","n":0})", "n");
  check_completion_rejected(R"({"prompt":"x","n":100000})", "n");
  check_completion_rejected(R"({"prompt":["a","b","c"],"n":100})", "n");
  check_completion_rejected(R"({"prompt":"x","seed":"abc"})", "seed");
  check_completion_rejected(R"({"prompt":"x","presence_penalty":3})", "presence_penalty");
  check_completion_rejected(R"({"prompt":"x","frequency_penalty":-2.5})", "frequency_penalty");
  check_completion_rejected(R"({"prompt":"x","repetition_penalty":0})", "repetition_penalty");
  check_completion_rejected(R"({"prompt":"x","min_tokens":-1})", "min_tokens");
  check_completion_rejected(R"({"prompt":"x","min_tokens":20,"max_tokens":10})", "min_tokens");
  check_completion_rejected(R"({"prompt":"x","ignore_eos":"maybe"})", "ignore_eos");
  check_completion_rejected(R"({"prompt":"x","ignore_eos":1})", "ignore_eos");
  check_completion_rejected(R"({"prompt":"x","stream":"yes"})", "stream");
  check_completion_rejected(R"({"prompt":"x","temperature":2.01})", "temperature");
  check_completion_rejected(R"({"prompt":"x","stop":["1","2","3","4","5"]})", "stop");
  check_completion_rejected(R"({"prompt":"x","guided_json":{"type":"object","minProperties":1}})", "guided_json");
  check_completion_rejected(R"({"prompt":"x","guided_grammar":"start ::= \"a\""})", "guided_grammar");
  check_completion_rejected(R"({"prompt":"x","guided_regex":"(a"})", "guided_regex");
  check_completion_rejected(R"({"prompt":"x","guided_choice":[]})", "guided_choice");
  check_completion_rejected(R"({"prompt":"x","guided_regex":"a","guided_choice":["a"]})", "guided_choice");
  check_completion_rejected(R"({"prompt":"x","stop":5})", "stop");
  check_completion_rejected(R"({"prompt":"x","stop":["a",5]})", "stop[1]");
  check_completion_rejected(R"({"prompt":"x","stop":[""]})", "stop");
  check_completion_rejected(R"({"prompt":"x","stop_token_ids":[1,-1]})", "stop_token_ids[1]");
  check_completion_rejected(R"({"prompt":"x","stop_token_ids":"1"})", "stop_token_ids");
  check_completion_rejected(R"({"prompt":"x","stop_token_ids":[99999999]})", "stop_token_ids[0]");
  check_completion_rejected(R"({"prompt":"x","logit_bias":{"abc":1}})", "logit_bias");
  check_completion_rejected(R"({"prompt":"x","logit_bias":{"1":101}})", "logit_bias");
  check_completion_rejected(R"({"prompt":"x","logit_bias":{"1":"a"}})", "logit_bias");
  check_completion_rejected(R"({"prompt":"x","logit_bias":{"99999999":1}})", "logit_bias");
  check_completion_rejected(R"({"prompt":"x","logit_bias":[1]})", "logit_bias");
  check_completion_rejected(R"({"prompt":"x","logprobs":21})", "logprobs");
  check_completion_rejected(R"({"prompt":"x","logprobs":true})", "logprobs");
  check_completion_rejected(R"({"prompt":"x","echo":"no way"})", "echo");
  check_completion_rejected(R"({"prompt":"x","user":5})", "user");
  check_completion_rejected(R"({"prompt":"x","stream_options":{"include_usage":true}})", "stream_options");
  check_completion_rejected(R"({"prompt":"x","stream":true,"stream_options":{"include_usage":"x"}})",
                 "stream_options.include_usage");
  check_completion_rejected(R"({"prompt":"x","stream":true,"stream_options":3})", "stream_options");
  check_completion_rejected(R"({"prompt":"x","suffix":"y"})", "suffix");
  check_completion_rejected(R"({"prompt":"x","best_of":3})", "best_of");
}

TEST_CASE("completion: a model name other than the served one is a 400 naming it", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ApiError e = completion_error(R"({"prompt":"x","model":"gpt-4"})");
  CHECK(e.status == 400);
  CHECK(e.param == "model");
  CHECK(e.code == "model_not_found");
  CHECK(e.message.find("gpt-4") != std::string::npos);
  CHECK(e.message.find("qwen3-test") != std::string::npos);
  CHECK(completion_error(R"({"prompt":"x","model":5})").param == "model");
}

TEST_CASE("completion: prompt and max_tokens against max_model_len", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  // max_model_len is 256 in the test context.
  std::string long_ids = "[";
  for (int i = 0; i < 256; ++i) long_ids += (i ? ",1" : "1");
  long_ids += "]";
  const ApiError too_long = completion_error(R"({"prompt":)" + long_ids + "}");
  CHECK(too_long.param == "prompt");
  CHECK(too_long.message.find("256") != std::string::npos);
  const ApiError too_many = completion_error(R"({"prompt":[1,2,3,4],"max_tokens":253})");
  CHECK(too_many.param == "max_tokens");
  CHECK(too_many.message.find("257 tokens (4 in the prompt, 253 in the completion)") != std::string::npos);
  parse_ok(R"({"prompt":[1,2,3,4],"max_tokens":252})");
}

TEST_CASE("completion: malformed bodies are 400s, never crashes", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  for (const std::string& body : {std::string(""), std::string("{"), std::string("[1,2]"), std::string("\"x\""),
                                 std::string("{\"prompt\":\"x\",}"), std::string("null"), std::string("{\"prompt\":\"x\"} trailing"),
                                 std::string("{\"prompt\":\"\xff\xfe\"}"), std::string("{\"prompt\":\"\xc3\"}"),
                                 std::string(100000, '['), std::string("{\"prompt\":\"x\",\"n\":1e999}")}) {
    INFO(body.substr(0, 40));
    const ApiError e = completion_error(body);
    CHECK(e.status == 400);
    CHECK_FALSE(e.message.empty());
  }
  CHECK(completion_error("{\"prompt\":\"\xff\"}").message.find("UTF-8") != std::string::npos);
  CHECK(completion_error("[1]").message.find("JSON object") != std::string::npos);
}

TEST_CASE("completion: a model without a tokenizer takes token ids only", "[openai]") {
  ModelContext context;
  context.served_model_name = "bare";
  context.vocab_size = 100;
  context.max_model_len = 64;
  auto ok = parse_completion_request(R"({"prompt":[1,2,99]})", context);
  REQUIRE(ok);
  CHECK(ok->prompts[0].text.empty());
  auto text = parse_completion_request(R"({"prompt":"hello"})", context);
  REQUIRE_FALSE(text);
  CHECK(text.error().message.find("no tokenizer") != std::string::npos);
  auto out_of_vocab = parse_completion_request(R"({"prompt":[100]})", context);
  REQUIRE_FALSE(out_of_vocab);
  CHECK(out_of_vocab.error().param == "prompt[0]");
}
