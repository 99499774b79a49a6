// generate() with the sampler's stop token ids and min_tokens: stop ids end generation even under
// ignore_eos, and min_tokens keeps eos from being chosen early.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

// The GQA fixture model and HF's greedy continuation of its golden prompt.
struct GreedyFixture {
  CpuBackend backend{2};
  Checkpoint checkpoint;
  std::unique_ptr<Transformer> model;
  std::vector<int32_t> prompt, greedy;

  GreedyFixture() {
    const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "llama_gqa_untied";
    checkpoint = open_checkpoint(dir);
    model = std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, backend);
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load((dir / "golden.json").string());
    for (int64_t id : doc["prompt_ids"].get_array()) prompt.push_back(static_cast<int32_t>(id));
    for (int64_t id : doc["greedy_ids"].get_array()) greedy.push_back(static_cast<int32_t>(id));
  }
};

}  // namespace

TEST_CASE("a stop token id ends generation, ignore_eos or not", "[generate]") {
  GreedyFixture f;
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
  GreedyFixture f;
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
