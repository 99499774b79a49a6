// generate() with the sampler's stop token ids and min_tokens: stop ids end generation even under
// ignore_eos, and min_tokens keeps eos from being chosen early.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "greedy_fixture.hpp"

using namespace sabre;

using generator_test::GreedyFixture;

TEST_CASE("a stop token id ends generation, ignore_eos or not", "[generate]") {
  GreedyFixture f("llama_gqa_untied");
  REQUIRE(f.greedy.size() > 6);
  const int32_t stop = f.greedy[5];
  const auto first = static_cast<size_t>(std::find(f.greedy.begin(), f.greedy.end(), stop) - f.greedy.begin());
  GenerationOptions options;
  options.max_new_tokens = 32;
  options.sampling.temperature = 0;
  options.sampling.stop_token_ids = {stop};
  options.ignore_eos = true;
  auto result = generate(*f.model, f.prompt, options);
  CHECK(result.tokens == std::vector<int32_t>(f.greedy.begin(), f.greedy.begin() + static_cast<std::ptrdiff_t>(first) + 1));
  CHECK(result.finish_reason == FinishReason::stop);
}

TEST_CASE("min_tokens keeps eos out of the first tokens", "[generate]") {
  GreedyFixture f("llama_gqa_untied");
  // Pretend HF's first greedy token is eos: without min_tokens generation stops at once.
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.sampling.temperature = 0;
  options.eos_token_ids = {f.greedy[0]};
  CHECK(generate(*f.model, f.prompt, options).tokens == std::vector<int32_t>{f.greedy[0]});
  options.sampling.min_tokens = 3;
  auto result = generate(*f.model, f.prompt, options);
  REQUIRE(result.tokens.size() >= 3);
  for (size_t i = 0; i < 3; ++i) CHECK(result.tokens[i] != f.greedy[0]);
}
