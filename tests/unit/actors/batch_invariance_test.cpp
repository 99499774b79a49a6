// The engine's central promise: continuous batching does not change results. 64 greedy requests with
// prompts of 1 to 3000 tokens (so prompts are chunked and mixed with other sequences' decodes), some
// sharing long prefixes, each produce exactly the ids they produce alone; and again under a KV pool
// small enough to force preemption by recompute. The CPU backend runs in batch-invariant mode, which
// is the mode that makes this a bit-exact guarantee.
#include <catch2/catch.hpp>

#include <random>

#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::greedy_request;
using engine_test::TestEngine;

// Prompts over the tiny model's vocabulary (ids 4..255: no specials), lengths 1..3000, a third of
// them extending one of two shared 1000- and 2000-token prefixes.
std::vector<GenerationRequest> invariance_workload() {
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<int32_t> token(4, 255);
  auto random_tokens = [&](size_t n) {
    std::vector<int32_t> t(n);
    for (auto& id : t) id = token(rng);
    return t;
  };
  const std::vector<int32_t> prefix_a = random_tokens(1000), prefix_b = random_tokens(2000);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 64; ++i) {
    std::vector<int32_t> prompt;
    if (i % 3 == 1) prompt = prefix_a;
    if (i % 3 == 2 && i % 2 == 0) prompt = prefix_b;
    // Lengths spread over 1..3000, including both ends.
    const size_t total = i == 0 ? 1 : i == 63 ? 3000 : 1 + static_cast<size_t>(rng() % 3000);
    if (prompt.size() > total) prompt.resize(total);
    const auto rest = random_tokens(total - prompt.size());
    prompt.insert(prompt.end(), rest.begin(), rest.end());
    requests.push_back(greedy_request(prompt, 1 + static_cast<int64_t>(rng() % 160)));
  }
  return requests;
}

// Short prompts with long outputs: everyone is admitted at once, then decode growth outruns the pool
// and forces preemptions by recompute over and over.
std::vector<GenerationRequest> growth_workload() {
  std::mt19937 rng(7);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 24; ++i) {
    std::vector<int32_t> prompt(20 + rng() % 180);
    for (auto& id : prompt) id = 4 + static_cast<int32_t>(rng() % 252);
    requests.push_back(greedy_request(prompt, 150 + static_cast<int64_t>(rng() % 150)));
  }
  return requests;
}

EngineOptions invariance_engine(int64_t num_kv_blocks, int64_t max_model_len = 4096) {
  EngineOptions options;
  options.model = engine_test::long_context_copy("llama_gqa_untied", 4096);
  options.device.batch_invariant = true;
  options.cache.num_kv_blocks = num_kv_blocks;
  options.scheduler.max_model_len = max_model_len;
  options.scheduler.max_num_batched_tokens = 512;  // prompts up to 3000 take up to 6 chunks
  return options;
}

std::vector<std::vector<int32_t>> ids_of(const std::vector<engine_test::RequestResult>& results) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& r : results) {
    ids.push_back(r.samples.at(0).token_ids);
    INFO("request " << ids.size() - 1 << ": " << r.samples.at(0).finished.error_message);
    REQUIRE(r.samples.at(0).finished.finish_reason == FinishReason::length);
  }
  return ids;
}

}  // namespace

TEST_CASE("batch invariance: 64 concurrent greedy requests give the ids they give alone", "[engine][invariance]") {
  const auto requests = invariance_workload();

  // Catch runs the test case once per section: compute the lone outputs only the first time.
  static std::vector<std::vector<int32_t>> alone;
  if (alone.empty()) {
    TestEngine engine(invariance_engine(1024));
    for (const auto& request : requests) alone.push_back(ids_of(engine.run({request})).at(0));
  }
  for (size_t i = 0; i < requests.size(); ++i) REQUIRE(alone[i].size() == static_cast<size_t>(requests[i].max_tokens));

  SECTION("all at once, with room for everyone") {
    TestEngine engine(invariance_engine(8192));
    const auto together = ids_of(engine.run(requests));
    for (size_t i = 0; i < requests.size(); ++i) {
      INFO("request " << i << ", prompt " << requests[i].prompt_token_ids.size() << " tokens");
      CHECK(together[i] == alone[i]);
    }
    const EngineInfo info = engine.info();
    CHECK(info.prefix_cache_hit_blocks > 0);  // the shared prefixes were reused
    CHECK(info.kv_blocks_used == 0);
  }
  SECTION("all at once in a pool that holds about two long requests") {
    // 3000 + 160 tokens need 198 blocks: a pool of 400 holds about two long requests (preemption is rare here).
    TestEngine engine(invariance_engine(400, 3072));
    const auto together = ids_of(engine.run(requests));
    for (size_t i = 0; i < requests.size(); ++i) {
      INFO("request " << i << ", prompt " << requests[i].prompt_token_ids.size() << " tokens");
      CHECK(together[i] == alone[i]);
    }
    CHECK(engine.info().kv_blocks_used == 0);
  }
}


// 32 seeded sampled requests with assorted sampling parameters (temperature, top_p, top_k, min_p,
// penalties, n = 2), prompts of 20-200 tokens, 40-90 new tokens each.
std::vector<GenerationRequest> sampled_workload() {
  std::mt19937 rng(23);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 32; ++i) {
    std::vector<int32_t> prompt(20 + rng() % 180);
    for (auto& id : prompt) id = 4 + static_cast<int32_t>(rng() % 252);
    GenerationRequest r;
    r.prompt_token_ids = std::move(prompt);
    r.max_tokens = 40 + static_cast<int64_t>(rng() % 50);
    r.ignore_eos = true;
    r.has_seed = true;
    r.sampling.seed = 1000 + static_cast<uint64_t>(i);
    r.sampling.temperature = 0.7 + 0.1 * (i % 7);
    if (i % 3 == 0) r.sampling.top_p = 0.9;
    if (i % 4 == 1) r.sampling.top_k = 20;
    if (i % 5 == 2) r.sampling.min_p = 0.05;
    if (i % 6 == 3) r.sampling.repetition_penalty = 1.2;
    if (i % 7 == 4) r.sampling.frequency_penalty = 0.5;
    if (i % 8 == 5) r.n = 2;
    requests.push_back(std::move(r));
  }
  return requests;
}

std::vector<std::vector<int32_t>> sample_ids_of(const std::vector<engine_test::RequestResult>& results) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& r : results) {
    for (const auto& sample : r.samples) {
      INFO("request " << ids.size() << ": " << sample.finished.error_message);
      REQUIRE(sample.finished.finish_reason == FinishReason::length);
      ids.push_back(sample.token_ids);
    }
  }
  return ids;
}

TEST_CASE("batch invariance: a seeded sampled request gives the same tokens alone and among 32 concurrent ones",
          "[engine][invariance][sampling]") {
  const auto requests = sampled_workload();
  std::vector<std::vector<int32_t>> alone;
  {
    TestEngine engine(invariance_engine(256, 512));
    for (const auto& request : requests) {
      for (auto& ids : sample_ids_of(engine.run({request}))) alone.push_back(std::move(ids));
    }
  }
  SECTION("with room for everyone") {
    TestEngine engine(invariance_engine(1024, 512));
    const auto together = sample_ids_of(engine.run(requests));
    REQUIRE(together.size() == alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      INFO("sample " << i);
      CHECK(together[i] == alone[i]);
    }
  }
  SECTION("in a pool that forces preemption (a preempted request resumes its draws where it was)") {
    TestEngine engine(invariance_engine(48, 512));
    const auto together = sample_ids_of(engine.run(requests));
    REQUIRE(together.size() == alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      INFO("sample " << i);
      CHECK(together[i] == alone[i]);
    }
    INFO("preemptions " << engine.info().num_preemptions);
    CHECK(engine.info().num_preemptions >= 5);
  }
  // The samples are really random: different requests and the two samples of n = 2 differ.
  CHECK(alone[0] != alone[1]);
}

TEST_CASE("batch invariance: preemption by recompute does not change outputs", "[engine][invariance]") {
  const auto requests = growth_workload();
  std::vector<std::vector<int32_t>> alone;
  {
    TestEngine engine(invariance_engine(64, 512));
    for (const auto& request : requests) alone.push_back(ids_of(engine.run({request})).at(0));
  }
  // About 500 blocks of demand through a 40-block pool.
  TestEngine engine(invariance_engine(40, 512));
  const auto together = ids_of(engine.run(requests));
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("request " << i);
    CHECK(together[i] == alone[i]);
  }
  const EngineInfo info = engine.info();
  INFO("preemptions " << info.num_preemptions);
  CHECK(info.num_preemptions >= 10);
  CHECK(info.kv_blocks_used == 0);

  // The same through speculative decoding by prompt lookup: multi-token steps, truncated slots and
  // preemptions together keep every id.
  EngineOptions speculative = invariance_engine(40, 512);
  speculative.speculative.method = "ngram";
  speculative.speculative.num_steps = 4;
  speculative.speculative.max_rows = 64;  // let every sequence propose, to stress the pool
  TestEngine spec_engine(speculative);
  const auto spec_together = ids_of(spec_engine.run(requests));
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("speculative, request " << i);
    CHECK(spec_together[i] == alone[i]);
  }
  const EngineInfo spec_info = spec_engine.info();
  INFO("speculative preemptions " << spec_info.num_preemptions << ", accepted " << spec_info.speculative_accepted
                                  << " of " << spec_info.speculative_proposed);
  CHECK(spec_info.num_preemptions >= 5);
  CHECK(spec_info.speculative_accepted > 0);
  CHECK(spec_info.kv_blocks_used == 0);

  // And with the model as its own draft on the rank: its KV pool shares the preempted and recomputed
  // blocks, so the proposals being accepted shows it followed them. Every one was in every run since a
  // preempted sequence's lag is written into its cached blocks when it is recomputed (before, 4462 of
  // 4575: a block completed by the last accepted proposal was cached before the draft wrote that slot);
  // the bar is 99% because a stale draft KV costs acceptance only, never ids, which are checked exactly.
  EngineOptions drafted = invariance_engine(40, 512);
  drafted.speculative.method = "draft";
  drafted.speculative.draft_model = drafted.model;
  drafted.speculative.num_steps = 4;
  drafted.speculative.max_rows = 64;
  TestEngine draft_engine(drafted);
  const auto draft_together = ids_of(draft_engine.run(requests));
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO("drafted, request " << i);
    CHECK(draft_together[i] == alone[i]);
  }
  const EngineInfo draft_info = draft_engine.info();
  INFO("drafted preemptions " << draft_info.num_preemptions << ", accepted " << draft_info.speculative_accepted
                              << " of " << draft_info.speculative_proposed);
  CHECK(draft_info.num_preemptions >= 5);
  CHECK(draft_info.speculative_proposed > 0);
  CHECK(draft_info.speculative_accepted * 100 >= draft_info.speculative_proposed * 99);
  CHECK(draft_info.kv_blocks_used == 0);
}

}  // namespace sabre
