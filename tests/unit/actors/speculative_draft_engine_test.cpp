// The engine with a draft model on rank 0: under concurrent load (prefills and decodes of several
// sequences in one step, n > 1, prefix-cache hits) every greedy request gets the ids it gets without
// speculation, whether the draft is another model of the vocabulary or the target itself; with the
// target as its own draft every greedy proposal is accepted, which holds only when the draft's KV
// (its own pool in the same blocks, its lag after a fully accepted run) follows the target's exactly.
// Abort in the middle of drafted steps frees every block.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <thread>
#include <tuple>

#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::Golden;
using engine_test::greedy_request;
using engine_test::load_golden;
using engine_test::RequestResult;
using engine_test::TestEngine;

EngineOptions draft_engine(const std::string& model, const std::string& draft, int64_t k) {
  EngineOptions options;
  options.model = fixture_model(model);
  options.cache.num_kv_blocks = 64;
  options.device.batch_invariant = true;  // a row's logits do not depend on the rows beside it
  if (!draft.empty()) {
    options.speculative.method = "draft";
    options.speculative.draft_model = fixture_model(draft);
    options.speculative.num_steps = k;
  }
  return options;
}

// Greedy requests of several lengths over the golden prompt (two share it whole: prefix-cache hits),
// then one sampled request with n = 2.
std::vector<GenerationRequest> load_of(const Golden& golden) {
  std::vector<GenerationRequest> requests;
  requests.push_back(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
  requests.push_back(greedy_request(golden.prompt, 45));
  for (size_t cut = 1; cut <= 3; ++cut) {
    std::vector<int32_t> prompt(golden.prompt.begin() + static_cast<std::ptrdiff_t>(cut), golden.prompt.end());
    prompt.insert(prompt.end(), golden.prompt.begin(), golden.prompt.begin() + static_cast<std::ptrdiff_t>(cut));
    requests.push_back(greedy_request(prompt, 11 + 9 * static_cast<int64_t>(cut)));
  }
  GenerationRequest sampled = greedy_request(golden.prompt, 24);
  sampled.sampling.temperature = 0.8;
  sampled.sampling.seed = 11;
  sampled.has_seed = true;
  sampled.n = 2;
  requests.push_back(sampled);
  return requests;
}

const engine_test::SampleResult& only_sample(const RequestResult& r) { return r.samples.at(0); }

void wait_until_idle(TestEngine& engine) {
  for (int i = 0; i < 300 && engine.info().kv_blocks_used != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TEST_CASE("draft engine: every greedy request keeps its ids, and the target as its own draft has every greedy "
          "proposal accepted",
          "[engine][speculative][draft]") {
  const std::vector<std::pair<const char*, const char*>> pairs = {
      {"llama_gqa_untied", "qwen2_bias"}, {"qwen2_bias", "qwen3_qknorm"}, {"qwen3_qknorm", "llama_gqa_untied"}};
  for (const auto& [model, other] : pairs) {
    INFO(model);
    const Golden golden = load_golden(model);
    const auto requests = load_of(golden);
    std::vector<RequestResult> plain;
    {
      TestEngine engine(draft_engine(model, "", 0));
      plain = engine.run(requests);
    }
    REQUIRE(only_sample(plain[0]).token_ids == golden.greedy);
    const std::vector<std::tuple<std::string, int64_t, int64_t>> drafts = {
        {model, 4, 0}, {other, 3, 0}, {model, 1, 0}, {model, 4, 3}};
    for (const auto& [draft, k, disable_above] : drafts) {
      INFO("draft " << draft << ", k = " << k << ", no proposals above " << disable_above << " sequences");
      EngineOptions options = draft_engine(model, draft, k);
      options.speculative.disable_by_batch_size = disable_above;
      TestEngine engine(options);
      const auto results = engine.run(requests);
      REQUIRE(results.size() == plain.size());
      int64_t proposed = 0;
      for (size_t i = 0; i + 1 < results.size(); ++i) {
        INFO("request " << i);
        const auto& sample = only_sample(results[i]);
        REQUIRE(sample.finished.finish_reason == FinishReason::length);
        CHECK(sample.token_ids == only_sample(plain[i]).token_ids);
        proposed += sample.finished.usage.speculative_proposed;
        // The target drafting for itself proposes its own argmax: nothing is ever rejected.
        INFO("accepted " << sample.finished.usage.speculative_accepted << " of " << sample.finished.usage.speculative_proposed);
        if (draft == model) CHECK(sample.finished.usage.speculative_accepted == sample.finished.usage.speculative_proposed);
      }
      CHECK(proposed > 0);
      // The sampled pair follows the target's distribution through the rejection rule's own draws.
      REQUIRE(results.back().samples.size() == 2);
      for (const auto& sample : results.back().samples) CHECK(sample.token_ids.size() == 24);
      const EngineInfo info = engine.info();
      CHECK(info.speculative_accepted <= info.speculative_proposed);
      CHECK(info.speculative_proposed >= proposed);
      wait_until_idle(engine);
      CHECK(engine.info().kv_blocks_used == 0);
    }
  }
}

TEST_CASE("draft engine: decodes that do not propose leave the draft behind, and it catches up", "[engine][speculative][draft]") {
  // Four requests, no proposals while more than one runs (--speculative-disable-by-batch-size 1): the
  // draft skips their decodes, catching up whenever a lag would fill a block (in two passes: blocks of
  // 32, steps of 16 tokens) and when the long one drafts alone. The target drafting for itself must still have every greedy proposal accepted,
  // which needs every lagging position caught up in order.
  const Golden golden = load_golden("llama_gqa_untied");
  std::vector<GenerationRequest> requests;
  for (const int64_t tokens : {120, 40, 40, 40}) requests.push_back(greedy_request(golden.prompt, tokens));
  std::vector<RequestResult> plain;
  EngineOptions options = draft_engine("llama_gqa_untied", "", 0);
  options.scheduler.max_num_batched_tokens = 16;
  {
    TestEngine engine(options);
    plain = engine.run(requests);
  }
  options = draft_engine("llama_gqa_untied", "llama_gqa_untied", 4);
  options.scheduler.max_num_batched_tokens = 16;
  options.speculative.disable_by_batch_size = 1;
  // Blocks of 32 tokens: a lag can outgrow a 16-token step and is then caught up in several passes.
  options.cache.block_size = 32;
  TestEngine engine(options);
  const auto results = engine.run(requests);
  for (size_t i = 0; i < results.size(); ++i) {
    INFO("request " << i);
    const auto& sample = only_sample(results[i]);
    CHECK(sample.token_ids == only_sample(plain[i]).token_ids);
    CHECK(sample.finished.usage.speculative_accepted == sample.finished.usage.speculative_proposed);
  }
  const auto& longest = only_sample(results[0]).finished.usage;
  INFO("the long request: " << longest.speculative_accepted << " of " << longest.speculative_proposed << " accepted");
  CHECK(longest.speculative_proposed >= 40);
}

TEST_CASE("draft engine: abort in the middle of drafted steps frees every block", "[engine][speculative][draft]") {
  const Golden golden = load_golden("qwen2_bias");
  // A long request (900 tokens), so that the abort arrives well before it could end.
  EngineOptions options = draft_engine("qwen2_bias", "qwen2_bias", 4);
  options.model = options.speculative.draft_model = engine_test::long_context_copy("qwen2_bias", 1024);
  TestEngine engine(options);
  CHECK(engine_test::abort_after_speculation(engine, greedy_request(golden.prompt, 900), 2) == "abort");
  CHECK(engine_test::drains(engine));
  CHECK(engine.info().speculative_proposed > 0);
}

}  // namespace sabre
