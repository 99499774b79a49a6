// check_generation_request: every rule names its field; what it accepts runs; the KV rule is the one the
// scheduler enforces (kv_blocks_needed against Scheduler::add's refusals).

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <vector>

#include "actors/request_check.hpp"
#include "actors/scheduler.hpp"
#include "model/tokenizer/tokenizer.hpp"

using namespace sabre;

namespace {

const RequestLimits kLimits{.vocab_size = 100, .max_model_len = 64, .max_num_seqs = 4, .kv_block_size = 4,
                            .kv_blocks = 20, .guided = nullptr};

GenerationRequest valid() {
  GenerationRequest r;
  r.max_tokens = 10;
  return r;
}

std::string param_of(const GenerationRequest& r, std::vector<int32_t> prompt = {1, 2, 3},
                     const RequestFieldNames& names = {}) {
  const auto problem = check_generation_request(r, prompt, kLimits, names);
  return problem ? problem->param : "";
}

}  // namespace

TEST_CASE("request check: each rule names its field", "[request_check]") {
  CHECK(param_of(valid()).empty());
  GenerationRequest r = valid();
  r.n = 0;
  CHECK(param_of(r) == "n");
  r.n = 5;  // more than max_num_seqs
  CHECK(param_of(r) == "n");
  r = valid();
  r.max_tokens = 0;
  CHECK(param_of(r) == "max_tokens");
  CHECK(param_of(r, {1}, {"messages", "max_completion_tokens"}) == "max_completion_tokens");
  r = valid();
  r.sampling.temperature = -1;
  CHECK(param_of(r) == "temperature");
  r = valid();
  r.sampling.top_p = 0;
  CHECK(param_of(r) == "top_p");
  r = valid();
  r.sampling.logit_bias = {{100, 1.0f}};  // past the vocabulary: a rank would throw on it
  CHECK(param_of(r) == "logit_bias");
  r = valid();
  r.sampling.stop_token_ids = {7, 100};
  CHECK(param_of(r) == "stop_token_ids");
  r = valid();
  r.sampling.min_tokens = 11;
  CHECK(param_of(r) == "min_tokens");
  r = valid();
  r.stop = {"ok", ""};
  CHECK(param_of(r) == "stop");
  CHECK(param_of(valid(), {}) == "prompt");
  CHECK(param_of(valid(), {1, 100}) == "prompt");
  CHECK(param_of(valid(), {1, -1}, {"messages", "max_tokens"}) == "messages");
  CHECK(param_of(valid(), std::vector<int32_t>(64, 1)) == "prompt");  // no room for any completion
  CHECK(param_of(valid(), std::vector<int32_t>(55, 1)) == "max_tokens");  // 55 + 10 > 64
  CHECK(param_of(valid(), std::vector<int32_t>(54, 1)).empty());
  const auto long_context = check_generation_request(valid(), std::vector<int32_t>(55, 1), kLimits);
  REQUIRE(long_context);
  CHECK_THAT(long_context->message, Catch::Contains("65 tokens (55 in the prompt, 10 in the completion)"));
}

TEST_CASE("request check: the KV rule is the scheduler's", "[request_check]") {
  // 20 blocks of 4. One sample of a 30-token prompt with max_tokens 51 feeds back 80 tokens: 20 blocks;
  // with max_tokens 52, 81 tokens: 21 blocks.
  GenerationRequest r = valid();
  const RequestLimits roomy{.vocab_size = 100, .max_model_len = 1000, .max_num_seqs = 8, .kv_block_size = 4,
                            .kv_blocks = 20, .guided = nullptr};
  r.max_tokens = 51;
  CHECK_FALSE(check_generation_request(r, std::vector<int32_t>(30, 1), roomy));
  r.max_tokens = 52;
  const auto problem = check_generation_request(r, std::vector<int32_t>(30, 1), roomy);
  REQUIRE(problem);
  CHECK(problem->param == "max_tokens");
  CHECK_THAT(problem->message, Catch::Contains("21 KV blocks") && Catch::Contains("has 20"));

  // The same numbers through the scheduler: what the check accepts, Scheduler::add accepts.
  for (int64_t n : {1, 2, 3}) {
    for (int64_t prompt : {1, 7, 8, 30}) {
      for (int64_t max_tokens : {1, 2, 9, 40}) {
        BlockManager blocks({.block_size = 4, .num_blocks = 20, .enable_prefix_caching = false});
        Scheduler scheduler({.max_model_len = 1000, .max_steps_in_flight = 1}, blocks);
        SequenceRequest request{1, std::vector<int32_t>(static_cast<size_t>(prompt), 1), max_tokens, {}, {}};
        for (int64_t i = 1; i < n; ++i) request.extra_sample_ids.push_back(1 + i);
        GenerationRequest g = valid();
        g.n = n;
        g.max_tokens = max_tokens;
        const bool accepted = !check_generation_request(g, request.prompt, roomy);
        INFO("n " << n << " prompt " << prompt << " max_tokens " << max_tokens << " needs "
                  << kv_blocks_needed(prompt, max_tokens, n, 4));
        if (accepted) {
          CHECK_NOTHROW(scheduler.add(request));
        } else {
          CHECK_THROWS_AS(scheduler.add(request), SchedulerRequestInvalid);
        }
      }
    }
  }
}

TEST_CASE("request check: a guided-decoding constraint must compile", "[request_check][guided]") {
  GenerationRequest r = valid();
  r.sampling.guided = {GuidedKind::regex, "[a-z]+"};
  // No tokenizer, no compiler: refused by name.
  const auto without = check_generation_request(r, std::vector<int32_t>{1, 2}, kLimits);
  REQUIRE(without);
  CHECK(without->param == "guided_decoding");
  CHECK(without->message.find("tokenizer") != std::string::npos);
  RequestLimits limits = kLimits;
  auto tokenizer = std::make_shared<const Tokenizer>(
      Tokenizer::from_file(std::filesystem::path(SABRE_TEST_FIXTURES) / "models/byte_tokenizer/tokenizer.json"));
  limits.guided = std::make_shared<structured::GuidedCompiler>(tokenizer, 100, std::vector<int32_t>{2});
  CHECK_FALSE(check_generation_request(r, std::vector<int32_t>{1, 2}, limits));
  r.sampling.guided = {GuidedKind::json_schema, R"({"type": "array", "uniqueItems": true})"};
  const auto bad = check_generation_request(r, std::vector<int32_t>{1, 2}, limits, {"prompt", "max_tokens", "guided_json"});
  REQUIRE(bad);
  CHECK(bad->param == "guided_json");
  CHECK(bad->message.find("uniqueItems") != std::string::npos);
}
