// Prompt logprobs through the whole engine on the tiny fixtures, against transformers: every prompt
// token after the first gets log_softmax(HF's logits at the position before it)[token], its rank and the
// top alternatives (golden_logits.f32, made by make_tiny_models.py, holds HF's logits at every position
// of prompt + greedy[:-1], which is the prompt here). Prompts are scored in chunks, beside other
// requests, after the prefix cache has their blocks (it must not skip them), and for n > 1.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "../model/hf_golden.hpp"
#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::greedy_request;
using engine_test::TestEngine;

// Far below the distance between two of the tiny models' logits that a rank or a top-k cut depends on,
// and above the float error of a 2-layer fp32 forward pass.
constexpr double kLogprobTolerance = 2e-3;

std::vector<double> log_softmax(std::span<const float> row) {
  const double top = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row) sum += std::exp(x - top);
  std::vector<double> out;
  out.reserve(row.size());
  for (float x : row) out.push_back(x - top - std::log(sum));
  return out;
}

// Checks `scored` (prompt tokens 1.. of `sequence`) against HF's logits rows.
void check_against_reference(const model_test::Golden& golden, const std::vector<int32_t>& sequence,
                             const std::vector<SampledToken>& scored, size_t top_k) {
  REQUIRE(scored.size() == sequence.size() - 1);
  for (size_t i = 1; i < sequence.size(); ++i) {
    INFO("prompt position " << i);
    const std::vector<double> reference = log_softmax(golden.row(static_cast<int64_t>(i - 1)));
    const SampledToken& token = scored[i - 1];
    const double expected = reference[static_cast<size_t>(sequence[i])];
    CHECK(token.token == sequence[i]);
    CHECK(std::abs(token.logprob - expected) < kLogprobTolerance);
    // The rank counts the likelier tokens; one within the tolerance may fall on either side.
    const auto likelier = [&](double margin) {
      return 1 + std::count_if(reference.begin(), reference.end(), [&](double x) { return x > expected + margin; });
    };
    CHECK(token.rank >= likelier(kLogprobTolerance));
    CHECK(token.rank <= likelier(-kLogprobTolerance));
    // The alternatives: the k likeliest, most likely first, each with its own log-probability.
    REQUIRE(token.top_logprobs.size() == top_k);
    std::vector<double> sorted = reference;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    for (size_t j = 0; j < top_k; ++j) {
      const TokenLogprob& alt = token.top_logprobs[j];
      CHECK(std::abs(alt.logprob - reference[static_cast<size_t>(alt.token)]) < kLogprobTolerance);
      CHECK(std::abs(alt.logprob - sorted[j]) < kLogprobTolerance);
    }
  }
}

GenerationRequest scored_request(const std::vector<int32_t>& prompt, int32_t top_k, int64_t n = 1) {
  GenerationRequest r = greedy_request(prompt, 3);
  r.prompt_logprobs = top_k;
  r.n = n;
  return r;
}

EngineOptions chunked(const std::string& model) {
  EngineOptions options;
  options.model = fixture_model(model);
  options.cache.num_kv_blocks = 64;
  options.cache.block_size = 4;
  // A 41-token prompt is scored in chunks of 16, 16 and 9 tokens.
  options.scheduler.max_prompt_logprob_rows = 16;
  return options;
}

}  // namespace

TEST_CASE("engine: prompt logprobs equal transformers', scored in chunks", "[engine][prompt_logprobs]") {
  for (const char* model : {"qwen3_qknorm", "llama_gqa_untied"}) {
    INFO(model);
    const model_test::Golden golden = model_test::load_golden(fixture_model(model));
    const std::vector<int32_t> sequence = golden.sequence();
    TestEngine engine(chunked(model));
    const auto result = engine.run_one(scored_request(sequence, 5));
    REQUIRE(result.samples.size() == 1);
    const auto& sample = result.samples[0];
    CHECK(sample.finished.finish_reason == FinishReason::length);
    CHECK(sample.deltas_with_prompt_logprobs == 1);
    check_against_reference(golden, sequence, sample.prompt_logprobs, 5);
    // The last prompt position is sampled from, as without prompt logprobs.
    CHECK(sample.token_ids.at(0) == golden.greedy.back());
  }
}

TEST_CASE("engine: a prompt the prefix cache holds is scored in full", "[engine][prompt_logprobs]") {
  const model_test::Golden golden = model_test::load_golden(fixture_model("qwen3_qknorm"));
  const std::vector<int32_t> sequence = golden.sequence();
  TestEngine engine(chunked("qwen3_qknorm"));
  const auto warm = engine.run_one(greedy_request(sequence, 2));
  REQUIRE(warm.samples.at(0).finished.finish_reason == FinishReason::length);
  const auto plain = engine.run_one(greedy_request(sequence, 2));
  CHECK(plain.samples.at(0).finished.usage.cached_prompt_tokens > 0);  // the cache has the prompt's blocks

  const auto scored = engine.run_one(scored_request(sequence, 2));
  const auto& sample = scored.samples.at(0);
  CHECK(sample.finished.usage.cached_prompt_tokens == 0);
  check_against_reference(golden, sequence, sample.prompt_logprobs, 2);
}

TEST_CASE("engine: every sample of n > 1 gets the prompt's scores, beside other requests",
          "[engine][prompt_logprobs]") {
  const model_test::Golden golden = model_test::load_golden(fixture_model("qwen3_qknorm"));
  const std::vector<int32_t> sequence = golden.sequence();
  TestEngine engine(chunked("qwen3_qknorm"));
  GenerationRequest sampled = scored_request(sequence, 0, 3);
  sampled.sampling.temperature = 1.0;
  sampled.sampling.seed = 11;
  sampled.has_seed = true;
  const std::vector<int32_t> short_prompt(sequence.begin(), sequence.begin() + 7);
  const auto results = engine.run({greedy_request(golden.prompt, 8), sampled, scored_request(short_prompt, 1),
                                   scored_request(sequence, 3)});
  REQUIRE(results[1].samples.size() == 3);
  for (const auto& sample : results[1].samples) {
    CHECK(sample.deltas_with_prompt_logprobs == 1);
    check_against_reference(golden, sequence, sample.prompt_logprobs, 0);
  }
  check_against_reference(golden, short_prompt, results[2].samples.at(0).prompt_logprobs, 1);
  check_against_reference(golden, sequence, results[3].samples.at(0).prompt_logprobs, 3);
  CHECK(results[0].samples.at(0).prompt_logprobs.empty());
  CHECK(results[0].samples.at(0).token_ids ==
        std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 8));
}

TEST_CASE("engine: a prompt preempted while being scored is scored again, each position reported once",
          "[engine][prompt_logprobs]") {
  const model_test::Golden golden = model_test::load_golden(fixture_model("qwen3_qknorm"));
  const std::vector<int32_t> sequence = golden.sequence();  // 41 tokens: 11 blocks of 4
  EngineOptions options = chunked("qwen3_qknorm");
  // 14 blocks: the 41-token prompt and a request that grows to 48 tokens (12 blocks) cannot both stay.
  // Steps one at a time, so the scoring prompt sits between two of its 4-token chunks when the other
  // request needs its fourth block, and is the preemption victim (the later arrival).
  options.cache.num_kv_blocks = 14;
  options.scheduler.max_model_len = 56;
  options.scheduler.max_prompt_logprob_rows = 4;
  options.scheduler.max_steps_in_flight = 1;
  options.cache.enable_prefix_caching = false;
  // The scoring prompt fits beside the other only while that one is a few tokens long, so the scenario
  // needs the second submission to reach the scheduler within a few steps of the first; under load it
  // may come later, wait for the room, and run unpreempted. Such a run is repeated, with a fresh engine.
  std::vector<engine_test::RequestResult> results;
  int64_t preemptions = 0;
  for (int attempt = 0; attempt < 8 && preemptions == 0; ++attempt) {
    TestEngine engine(options);
    results = engine.run({greedy_request(golden.prompt, 38), scored_request(sequence, 2)});
    preemptions = engine.info().num_preemptions;
  }
  REQUIRE(preemptions >= 1);
  CHECK(results[0].samples.at(0).finished.finish_reason == FinishReason::length);
  const auto& sample = results[1].samples.at(0);
  INFO(sample.finished.error_message);
  CHECK(sample.finished.finish_reason == FinishReason::length);
  CHECK(sample.deltas_with_prompt_logprobs == 1);
  check_against_reference(golden, sequence, sample.prompt_logprobs, 2);
}

TEST_CASE("engine: prompt_logprobs out of range is refused by name", "[engine][prompt_logprobs]") {
  TestEngine engine(chunked("qwen3_qknorm"));
  const auto result = engine.run_one(scored_request({1, 2, 3}, 21));
  CHECK(result.samples.at(0).finished.finish_reason == FinishReason::error);
  CHECK(result.samples.at(0).finished.error_param == "prompt_logprobs");
}

}  // namespace sabre
