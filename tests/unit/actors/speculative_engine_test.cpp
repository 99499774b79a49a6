// The engine with speculative decoding by prompt lookup: under concurrent load every request gets the
// ids it gets without speculation (transformers' for the golden prompt), proposals are accepted on
// text that repeats, n > 1 and stop ids work, every KV block is free at the end, and the counters say
// how many tokens were proposed and accepted.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <thread>

#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::Golden;
using engine_test::greedy_request;
using engine_test::load_golden;
using engine_test::RequestResult;
using engine_test::TestEngine;

EngineOptions lookup_engine(const std::string& model, int64_t k) {
  EngineOptions options;
  options.model = fixture_model(model);
  options.cache.num_kv_blocks = 64;
  options.device.batch_invariant = true;
  if (k > 0) {
    options.speculative.method = "ngram";
    options.speculative.num_steps = k;
  }
  return options;
}

std::vector<GenerationRequest> load_of(const Golden& golden) {
  std::vector<GenerationRequest> requests;
  requests.push_back(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
  // A prompt that repeats itself: its continuation is likely to repeat it too.
  std::vector<int32_t> repeated = golden.prompt;
  repeated.insert(repeated.end(), golden.prompt.begin(), golden.prompt.end());
  requests.push_back(greedy_request(repeated, 40));
  for (size_t cut = 1; cut <= 3; ++cut) {
    requests.push_back(greedy_request(std::vector<int32_t>(golden.prompt.begin() + static_cast<std::ptrdiff_t>(cut),
                                                           golden.prompt.end()),
                                      10 + 7 * static_cast<int64_t>(cut)));
  }
  GenerationRequest sampled = greedy_request(golden.prompt, 24);
  sampled.sampling.temperature = 0.8;
  sampled.sampling.seed = 7;
  sampled.has_seed = true;
  sampled.n = 2;
  requests.push_back(sampled);
  return requests;
}

std::vector<std::vector<int32_t>> ids_of(const std::vector<RequestResult>& results) {
  std::vector<std::vector<int32_t>> ids;
  for (const RequestResult& r : results) {
    for (const auto& sample : r.samples) {
      INFO(sample.finished.error_message);
      REQUIRE(sample.finished.finish_reason != FinishReason::error);
      ids.push_back(sample.token_ids);
    }
  }
  return ids;
}

}  // namespace

TEST_CASE("speculative engine: prompt lookup keeps every request's greedy ids under concurrent load",
          "[engine][speculative]") {
  int64_t accepted = 0;  // over every model: whether a proposal is right depends on what a model says
  for (const char* model : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm"}) {
    INFO(model);
    const Golden golden = load_golden(model);
    const auto requests = load_of(golden);
    std::vector<std::vector<int32_t>> plain;
    {
      TestEngine engine(lookup_engine(model, 0));
      plain = ids_of(engine.run(requests));
    }
    REQUIRE(plain[0] == golden.greedy);
    for (const int64_t k : {2, 5}) {
      INFO("k = " << k);
      TestEngine engine(lookup_engine(model, k));
      const auto results = engine.run(requests);
      const auto speculative = ids_of(results);
      int64_t usage_proposed = 0, usage_accepted = 0;
      for (const RequestResult& r : results) {
        for (const auto& sample : r.samples) {
          usage_proposed += sample.finished.usage.speculative_proposed;
          usage_accepted += sample.finished.usage.speculative_accepted;
        }
      }
      // Greedy requests: identical. The sampled pair keeps the target's distribution but draws its
      // numbers differently (the rejection rule's own streams), so only its length is fixed.
      for (size_t i = 0; i + 2 < plain.size(); ++i) CHECK(speculative[i] == plain[i]);
      CHECK(speculative[speculative.size() - 1].size() == 24);
      const EngineInfo info = engine.info();
      CHECK(info.speculative_proposed > 0);
      accepted += info.speculative_accepted;
      const std::string metrics = engine.metrics();
      CHECK_THAT(metrics, Catch::Contains("sabre:spec_decode_num_draft_tokens_total{model_name=") &&
                              Catch::Contains(fmt::format("}} {}", info.speculative_proposed)));
      CHECK(info.speculative_accepted <= info.speculative_proposed);
      // Each request's usage counts its own: together the engine's (every request ran to its end).
      CHECK(usage_proposed == info.speculative_proposed);
      CHECK(usage_accepted == info.speculative_accepted);
      for (int i = 0; i < 200 && engine.info().kv_blocks_used != 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      CHECK(engine.info().kv_blocks_used == 0);
    }
  }
  CHECK(accepted > 0);
}

}  // namespace sabre

namespace sabre {

TEST_CASE("speculative engine: abort in the middle of speculative steps frees every block", "[engine][speculative]") {
  const Golden golden = engine_test::load_golden("qwen2_bias");
  // A long request (900 tokens), so that the abort arrives well before it could end.
  EngineOptions options = lookup_engine("qwen2_bias", 4);
  options.model = engine_test::long_context_copy("qwen2_bias", 1024);
  engine_test::TestEngine engine(options);
  std::vector<int32_t> repeated = golden.prompt;
  repeated.insert(repeated.end(), golden.prompt.begin(), golden.prompt.end());
  CHECK(engine_test::abort_after_speculation(engine, engine_test::greedy_request(repeated, 900), 3) == "abort");
  CHECK(engine_test::drains(engine));
  CHECK(engine.info().speculative_proposed > 0);
}

}  // namespace sabre
