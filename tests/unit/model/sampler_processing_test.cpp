// Sampling beyond temperature/top-k/top-p: logit_bias, min_tokens, repetition/presence/frequency
// penalties (checked against the formulas written out directly here), min_p (by frequencies over many
// draws), top_logprobs, stop ids and per-request seeds.

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <vector>

#include "kernels/cpu/sampler.hpp"
#include "sampler_test_support.hpp"

using namespace sabre;
using namespace sabre::sampler_test;

namespace {

// HF's RepetitionPenaltyLogitsProcessor written out for one logit.
float repetition_reference(float logit, double penalty) {
  return static_cast<float>(logit > 0 ? logit / penalty : logit * penalty);
}

}  // namespace

TEST_CASE("logit_bias is added to the logit and can move the argmax", "[sampler]") {
  const std::vector<float> logits = {2.0f, 1.0f, -0.5f};
  Sampler sampler({.temperature = 0.0, .logit_bias = {{2, 3.0f}, {0, -0.25f}}});
  const auto adjusted = sampler.adjusted_logits(logits);
  CHECK(adjusted == std::vector<float>{1.75f, 1.0f, 2.5f});
  const auto s = sampler.sample(logits);
  CHECK(s.token == 2);
  // The reported logprob is the raw model's, unaffected by the bias.
  const double z = std::exp(2.0) + std::exp(1.0) + std::exp(-0.5);
  CHECK(s.logprob == Approx(-0.5 - std::log(z)).epsilon(1e-6));
  // A bias outside the vocabulary is an error naming the token.
  Sampler bad({.logit_bias = {{7, 1.0f}}});
  CHECK_THROWS_WITH(bad.sample(logits), Catch::Contains("logit_bias") && Catch::Contains("7"));
}

TEST_CASE("repetition penalty divides positive and multiplies negative logits of prompt and output ids",
          "[sampler]") {
  const std::vector<float> logits = {3.0f, -1.0f, 0.5f, 2.0f, -2.0f, 0.0f};
  const std::vector<int32_t> prompt = {1, 3, 3};
  const double penalty = 1.5;
  Sampler sampler({.temperature = 0.0, .repetition_penalty = penalty}, prompt);
  std::vector<float> expected = logits;
  for (int32_t id : {1, 3}) expected[static_cast<size_t>(id)] = repetition_reference(logits[static_cast<size_t>(id)], penalty);
  CHECK(sampler.adjusted_logits(logits) == expected);
  // Greedy picks id 0 (3.0, untouched); from then on it counts as seen, penalised once however often it repeats.
  CHECK(sampler.sample(logits).token == 0);
  CHECK(sampler.sample(logits).token == 0);  // now 3.0 / 1.5 = 2.0, still above id 3 (2.0 / 1.5)
  expected[0] = repetition_reference(3.0f, penalty);
  CHECK(sampler.adjusted_logits(logits) == expected);
}

TEST_CASE("presence and frequency penalties count output tokens only", "[sampler]") {
  // Id 0 is in the prompt but never generated: no penalty. Generate 2, 2, 4 by forcing them with bias.
  const std::vector<float> flat(6, 0.0f);
  const double presence = 0.5, frequency = 0.75;
  const std::vector<int32_t> prompt = {0, 0, 0};
  SamplingParams params{.temperature = 0.0, .presence_penalty = presence, .frequency_penalty = frequency};
  Sampler sampler(params, prompt);
  const std::vector<float> prefer2 = {0, 0, 10, 0, 0, 0}, prefer4 = {0, 0, 0, 0, 10, 0};
  REQUIRE(sampler.sample(prefer2).token == 2);
  REQUIRE(sampler.sample(prefer2).token == 2);
  REQUIRE(sampler.sample(prefer4).token == 4);
  const std::map<int32_t, int> counts = {{2, 2}, {4, 1}};
  std::vector<float> expected = flat;
  for (const auto& [id, n] : counts) {
    expected[static_cast<size_t>(id)] = static_cast<float>(0.0 - frequency * n - presence);
  }
  const auto adjusted = sampler.adjusted_logits(flat);
  REQUIRE(adjusted.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) CHECK(adjusted[i] == Approx(expected[i]).epsilon(1e-6));
  CHECK(sampler.generated_count() == 3);
}

TEST_CASE("bias, then penalties: the order vLLM applies them in", "[sampler]") {
  // Bias first turns -1 into +1, which the repetition penalty then divides (it would multiply -1).
  const std::vector<float> logits = {-1.0f, 0.0f};
  const std::vector<int32_t> prompt = {0};
  Sampler sampler({.temperature = 0.0, .repetition_penalty = 2.0, .logit_bias = {{0, 2.0f}}}, prompt);
  CHECK(sampler.adjusted_logits(logits)[0] == Approx(0.5f));
}

TEST_CASE("min_tokens masks eos and stop ids until reached", "[sampler]") {
  // Eos (id 3) and stop id 1 are the two best; greedy must avoid both for the first two tokens.
  const std::vector<float> logits = {1.0f, 4.0f, 2.0f, 5.0f};
  const std::vector<int32_t> eos = {3};
  Sampler sampler({.temperature = 0.0, .min_tokens = 2, .stop_token_ids = {1}}, {}, eos);
  CHECK(sampler.sample(logits).token == 2);
  CHECK(sampler.sample(logits).token == 2);
  CHECK(sampler.sample(logits).token == 3);
  CHECK(sampler.is_stop_token(3));
  CHECK(sampler.is_stop_token(1));
  CHECK_FALSE(sampler.is_stop_token(2));
  // Masked tokens are never drawn at any temperature either.
  Sampler hot({.temperature = 1.0, .seed = 9, .min_tokens = 1000, .stop_token_ids = {1}}, {}, eos);
  for (int i = 0; i < 1000; ++i) {
    const auto t = hot.sample(logits).token;
    REQUIRE(t != 1);
    REQUIRE(t != 3);
  }
  // When nothing is left to choose from, the error says so.
  Sampler only_eos({.temperature = 0.0, .min_tokens = 1}, {}, std::vector<int32_t>{0});
  CHECK_THROWS_WITH(only_eos.sample(std::vector<float>{1.0f}), Catch::Contains("masked"));
}

TEST_CASE("min_p keeps tokens with at least min_p times the best probability", "[sampler]") {
  // Threshold 0.2 * 0.5 = 0.1 keeps ids 0..2, renormalised over 0.875.
  auto f = frequencies({.temperature = 1.0, .seed = 11, .min_p = 0.2});
  CHECK(f.count(3) == 0);
  CHECK(f.count(4) == 0);
  CHECK(f[0] == Approx(0.5 / 0.875).margin(0.015));
  CHECK(f[1] == Approx(0.25 / 0.875).margin(0.015));
  CHECK(f[2] == Approx(0.125 / 0.875).margin(0.015));
  // After temperature: T = 0.5 squares the probabilities (relative to the best: 1, 1/4, 1/16, ...), so
  // min_p = 0.2 keeps ids 0 and 1 only: 0.8 / 0.2.
  auto sharp = frequencies({.temperature = 0.5, .seed = 12, .min_p = 0.2});
  CHECK(sharp.count(2) == 0);
  CHECK(sharp[0] == Approx(0.8).margin(0.015));
  CHECK(sharp[1] == Approx(0.2).margin(0.015));
  // Just below and above id 2's ratio to the best (0.125 / 0.5 = 0.25).
  auto below = frequencies({.temperature = 1.0, .seed = 13, .min_p = 0.24});
  CHECK(below[2] == Approx(0.125 / 0.875).margin(0.015));
  auto above = frequencies({.temperature = 1.0, .seed = 13, .min_p = 0.26});
  CHECK(above.count(2) == 0);
  CHECK(above[0] == Approx(2.0 / 3).margin(0.015));
  // With top_p after it: min_p leaves [4/7, 2/7, 1/7]; top_p 0.6 keeps the first two.
  auto both = frequencies({.temperature = 1.0, .top_p = 0.6, .seed = 14, .min_p = 0.2});
  CHECK(both.count(2) == 0);
  CHECK(both[0] == Approx(2.0 / 3).margin(0.015));
  // min_p = 1 keeps only the best token.
  auto one = frequencies({.temperature = 1.0, .seed = 15, .min_p = 1.0}, 1000);
  CHECK(one[0] == Approx(1.0));
}

TEST_CASE("top_logprobs reports the k most likely raw tokens", "[sampler]") {
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f, 2.0f, -3.0f};
  // Bias and temperature must not change what is reported.
  Sampler sampler({.temperature = 0.7, .seed = 3, .logit_bias = {{4, 50.0f}}, .top_logprobs = 3});
  const auto s = sampler.sample(logits);
  CHECK(s.token == 4);
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  REQUIRE(s.top_logprobs.size() == 3);
  CHECK(s.top_logprobs[0].token == 1);  // ties go to the lower id
  CHECK(s.top_logprobs[1].token == 3);
  CHECK(s.top_logprobs[2].token == 2);
  CHECK(s.top_logprobs[0].logprob == Approx(2.0 - std::log(z)).epsilon(1e-6));
  CHECK(s.top_logprobs[2].logprob == Approx(1.0 - std::log(z)).epsilon(1e-6));
  CHECK(s.logprob == Approx(-3.0 - std::log(z)).epsilon(1e-6));
  // More than the vocabulary gives the whole vocabulary; 0 gives none.
  CHECK(top_token_logprobs(logits, 99).size() == logits.size());
  CHECK(Sampler({.temperature = 0.0}).sample(logits).top_logprobs.empty());
}

TEST_CASE("a request's seed alone decides its draws, whatever else is sampled in between", "[sampler]") {
  auto alone = [] {
    Sampler s({.temperature = 1.0, .seed = 77, .min_p = 0.05});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(kLogits).token);
    return out;
  }();
  // Same request in a "batch" with two other requests sampled between its steps.
  Sampler mine({.temperature = 1.0, .seed = 77, .min_p = 0.05});
  Sampler other_a({.temperature = 1.0, .seed = 77});
  Sampler other_b({.temperature = 0.9, .seed = 5});
  std::vector<int32_t> batched;
  for (int i = 0; i < 64; ++i) {
    other_a.sample(kLogits);
    batched.push_back(mine.sample(kLogits).token);
    other_b.sample(kLogits);
    other_b.sample(kLogits);
  }
  CHECK(batched == alone);
}

TEST_CASE("bad values of the new sampling parameters are rejected by name", "[sampler]") {
  CHECK_THROWS_WITH(Sampler({.min_p = 1.5}), Catch::Contains("min_p"));
  CHECK_THROWS_WITH(Sampler({.repetition_penalty = 0.0}), Catch::Contains("repetition_penalty"));
  CHECK_THROWS_WITH(Sampler({.presence_penalty = 2.5}), Catch::Contains("presence_penalty"));
  CHECK_THROWS_WITH(Sampler({.frequency_penalty = -3}), Catch::Contains("frequency_penalty"));
  CHECK_THROWS_WITH(Sampler({.logit_bias = {{-1, 1.0f}}}), Catch::Contains("logit_bias"));
  CHECK_THROWS_WITH(Sampler({.logit_bias = {{1, NAN}}}), Catch::Contains("logit_bias"));
  CHECK_THROWS_WITH(Sampler({.top_logprobs = -1}), Catch::Contains("top_logprobs"));
  CHECK_THROWS_WITH(Sampler({.min_tokens = -1}), Catch::Contains("min_tokens"));
  CHECK_THROWS_WITH(Sampler({.stop_token_ids = {-4}}), Catch::Contains("stop_token_ids"));
}
