// generate(): greedy output equals HF's continuation, eos ids stop generation unless ignored, seeded
// sampling is reproducible, and the limits are enforced.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/backend_factory.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "greedy_fixture.hpp"

using namespace sabre;

using generator_test::GreedyFixture;

TEST_CASE("greedy generate reproduces HF and reports timings", "[generate]") {
  GreedyFixture f("llama_gqa_untied");
  GenerationOptions options;
  options.max_new_tokens = 32;
  options.sampling.temperature = 0;
  options.ignore_eos = true;
  auto result = generate(*f.model, f.prompt, options);
  CHECK(result.tokens == f.greedy);
  CHECK(result.logprobs.size() == 32);
  for (float lp : result.logprobs) CHECK(lp <= 0.0f);
  CHECK(result.finish_reason == FinishReason::length);
  CHECK(result.prompt_tokens == static_cast<int64_t>(f.prompt.size()));
  CHECK(result.prompt_tokens_per_second() > 0);
  CHECK(result.decode_tokens_per_second() > 0);
}

TEST_CASE("any eos id stops generation unless ignore_eos", "[generate]") {
  GreedyFixture f("qwen3_qknorm");
  GenerationOptions options;
  options.max_new_tokens = 32;
  options.sampling.temperature = 0;
  // Pretend the 5th greedy token is an end-of-turn id (like Llama 3's <|eot_id|> from generation_config).
  options.eos_token_ids = {9999, f.greedy[4]};
  auto stopped = generate(*f.model, f.prompt, options);
  const auto first = std::find(f.greedy.begin(), f.greedy.end(), f.greedy[4]) - f.greedy.begin();
  CHECK(stopped.tokens.size() == static_cast<size_t>(first + 1));
  CHECK(stopped.tokens.back() == f.greedy[4]);
  CHECK(stopped.finish_reason == FinishReason::stop);

  options.ignore_eos = true;
  auto ignored = generate(*f.model, f.prompt, options);
  CHECK(ignored.tokens.size() == 32);
  CHECK(ignored.finish_reason == FinishReason::length);

  // The callback can stop too.
  options.ignore_eos = false;
  options.eos_token_ids.clear();
  int seen = 0;
  auto early = generate(*f.model, f.prompt, options, [&](int32_t, float) { return ++seen < 3; });
  CHECK(early.tokens.size() == 3);
}

TEST_CASE("seeded sampling is reproducible", "[generate]") {
  GreedyFixture f("qwen2_bias");
  GenerationOptions options;
  options.max_new_tokens = 20;
  options.sampling = {.temperature = 1.5, .top_p = 0.95, .top_k = 50, .seed = 7};
  auto a = generate(*f.model, f.prompt, options);
  auto b = generate(*f.model, f.prompt, options);
  CHECK(a.tokens == b.tokens);
  CHECK(a.logprobs == b.logprobs);
  options.sampling.seed = 8;
  auto c = generate(*f.model, f.prompt, options);
  CHECK(a.tokens != c.tokens);
}

TEST_CASE("generate limits", "[generate]") {
  GreedyFixture f("qwen2_bias");
  GenerationOptions options;
  CHECK_THROWS_WITH(generate(*f.model, std::vector<int32_t>{}, options), Catch::Contains("no tokens"));
  options.max_new_tokens = 1000;  // the fixtures have 256 positions
  CHECK_THROWS_WITH(generate(*f.model, f.prompt, options), Catch::Contains("256"));
  options.max_new_tokens = 0;
  CHECK(generate(*f.model, f.prompt, options).tokens.empty());
}

TEST_CASE("make_backend", "[generate]") {
  CHECK(make_backend({.device = "cpu"})->name() == "cpu");
  // Without a CUDA build or a GPU the error names the device and the way out.
  std::unique_ptr<Backend> cuda;
  std::string error;
  try {
    cuda = make_backend({.device = "cuda"});
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  if (cuda) {
    CHECK(cuda->name() == "cuda");
  } else {
    CHECK_THAT(error, Catch::Contains("--device cuda") && Catch::Contains("--device cpu"));
  }
  CHECK_THROWS_WITH(make_backend({.device = "tpu"}), Catch::Contains("tpu") && Catch::Contains("cpu or cuda"));
}
