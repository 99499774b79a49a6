// Guided decoding through the whole engine (request actor, scheduler, rank, CPU sampler) on the tiny
// Qwen3 model with the byte tokenizer: every sample of a constrained request matches the constraint
// (std::regex judges), in a batch shared with unconstrained requests whose outputs do not change, and
// a constraint that does not compile is refused by name.
#include <catch2/catch.hpp>

#include <regex>

#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::TestEngine;

EngineOptions tiny_with_tokenizer() {
  EngineOptions options;
  options.model = fixture_model("qwen3_qknorm");
  options.tokenizer = fixture_model("byte_tokenizer");
  options.cache.num_kv_blocks = 64;
  options.device.batch_invariant = true;
  return options;
}

GenerationRequest plain(int64_t max_tokens) {
  GenerationRequest r;
  r.prompt = "Hello, tiny model!";
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

TEST_CASE("engine: constrained samples match their regex, beside unconstrained requests", "[engine][guided]") {
  TestEngine engine(tiny_with_tokenizer());
  const std::string pattern = "[a-c]{2,4}-[0-9]{1,2}( ok)?";
  GenerationRequest guided;
  guided.prompt = "Code:";
  guided.sampling.temperature = 1.0;
  guided.sampling.seed = 7;
  guided.has_seed = true;
  guided.sampling.guided = {GuidedKind::regex, pattern};
  guided.max_tokens = 40;
  guided.n = 4;
  const auto alone_plain = engine.run_one(plain(16)).samples.at(0);
  const auto results = engine.run({plain(16), guided, plain(16)});
  const std::regex reference(pattern);
  REQUIRE(results[1].samples.size() == 4);
  for (const auto& sample : results[1].samples) {
    INFO("output \"" << sample.text << "\"");
    CHECK(sample.finished.finish_reason == FinishReason::stop);
    CHECK(std::regex_match(sample.text, reference));
  }
  // The masks stay with their rows: the unconstrained neighbours write what they write alone.
  CHECK(results[0].samples.at(0).token_ids == alone_plain.token_ids);
  CHECK(results[2].samples.at(0).token_ids == alone_plain.token_ids);
}

TEST_CASE("engine: a constraint that does not compile is refused by name", "[engine][guided]") {
  TestEngine engine(tiny_with_tokenizer());
  GenerationRequest bad = plain(4);
  bad.sampling.guided = {GuidedKind::regex, "(a"};
  const auto result = engine.run_one(bad);
  REQUIRE(result.samples.size() == 1);
  CHECK(result.samples[0].finished.finish_reason == FinishReason::error);
  CHECK(result.samples[0].finished.error_message.find("unclosed") != std::string::npos);
  CHECK(result.samples[0].finished.error_param == "guided_decoding");
  CHECK(engine.run_one(plain(4)).samples.at(0).token_ids.size() == 4);  // and the engine serves on
}

}  // namespace
}  // namespace sabre
