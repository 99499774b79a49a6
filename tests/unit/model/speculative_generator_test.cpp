// Speculative decoding of one sequence: greedy output is transformers' (and plain decoding's) with the
// target as its own draft (everything accepted), with another model of the same vocabulary as the draft,
// and with prompt lookup; a seeded sampling run is reproducible; stop ids and max_new_tokens cut an
// accepted run; a draft of another vocabulary is refused naming both sizes. SmolLM2: the f32 target
// with its own Q4_1 file as the draft gives the target's greedy ids.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/speculative_generator.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return fs::path(SABRE_TEST_FIXTURES) / "models" / name; }

struct Loaded {
  Checkpoint checkpoint;
  std::unique_ptr<Transformer> model;
  Loaded(const fs::path& path, Backend& backend, WeightOptions weights = {})
      : checkpoint(open_checkpoint(path)),
        model(std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, backend, StepLimits{}, weights)) {}
};

struct Golden {
  std::vector<int32_t> prompt, greedy;
};

Golden golden_of(const std::string& name) {
  simdjson::dom::parser parser;
  const simdjson::dom::element doc = parser.load((fixture(name) / "golden.json").string());
  Golden g;
  for (int64_t id : doc["prompt_ids"].get_array()) g.prompt.push_back(static_cast<int32_t>(id));
  for (int64_t id : doc["greedy_ids"].get_array()) g.greedy.push_back(static_cast<int32_t>(id));
  return g;
}

GenerationOptions greedy(int64_t tokens) {
  GenerationOptions options;
  options.max_new_tokens = tokens;
  options.sampling.temperature = 0;
  options.ignore_eos = true;
  return options;
}

}  // namespace

TEST_CASE("speculative generation: greedy ids are the target's whatever proposes", "[speculative]") {
  CpuBackend backend{CpuBackendOptions{1, true}};  // batch-invariant: a position's logits do not depend on the pass
  const Golden golden = golden_of("llama_gqa_untied");
  Loaded target(fixture("llama_gqa_untied"), backend);
  const auto n = static_cast<int64_t>(golden.greedy.size());
  for (const int32_t k : {1, 4, 6}) {
    INFO("k = " << k);
    SpeculationStats self_stats;
    DraftModelProposer itself(*target.model, 256, static_cast<int64_t>(golden.prompt.size()) + n + k);
    CHECK(generate_speculative(*target.model, itself, k, golden.prompt, greedy(n), {}, &self_stats).tokens ==
          golden.greedy);
    CHECK(self_stats.acceptance_rate() == 1.0);  // the target as its own draft: everything accepted
    CHECK(self_stats.tokens_per_step() > 1.0);

    Loaded other(fixture("qwen3_qknorm"), backend);
    DraftModelProposer draft(*other.model, 256, static_cast<int64_t>(golden.prompt.size()) + n + k);
    SpeculationStats draft_stats;
    CHECK(generate_speculative(*target.model, draft, k, golden.prompt, greedy(n), {}, &draft_stats).tokens ==
          golden.greedy);
    CHECK(draft_stats.proposed > 0);

    PromptLookupProposer lookup;
    CHECK(generate_speculative(*target.model, lookup, k, golden.prompt, greedy(n)).tokens == golden.greedy);
  }
}

TEST_CASE("speculative generation: stop ids and max_new_tokens cut an accepted run; seeds repeat",
          "[speculative]") {
  CpuBackend backend{CpuBackendOptions{1, true}};
  const Golden golden = golden_of("llama_gqa_untied");
  Loaded target(fixture("llama_gqa_untied"), backend);
  DraftModelProposer itself(*target.model, 256, 256);
  // Stop at the fifth golden token: everything the accepted run had after it is dropped.
  GenerationOptions stop = greedy(static_cast<int64_t>(golden.greedy.size()));
  stop.sampling.stop_token_ids = {golden.greedy[4]};
  const auto first_stop = std::find(golden.greedy.begin(), golden.greedy.end(), golden.greedy[4]) - golden.greedy.begin();
  const GenerationResult stopped = generate_speculative(*target.model, itself, 4, golden.prompt, stop);
  CHECK(stopped.tokens == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + first_stop + 1));
  CHECK(stopped.finish_reason == FinishReason::stop);
  const GenerationResult seven = generate_speculative(*target.model, itself, 4, golden.prompt, greedy(7));
  CHECK(seven.tokens == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 7));
  CHECK(seven.finish_reason == FinishReason::length);

  GenerationOptions sampled = greedy(24);
  sampled.sampling.temperature = 0.9;
  sampled.sampling.seed = 1234;
  PromptLookupProposer lookup;
  const auto a = generate_speculative(*target.model, itself, 3, golden.prompt, sampled);
  const auto b = generate_speculative(*target.model, itself, 3, golden.prompt, sampled);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens.size() == 24);
  CHECK(a.logprobs.size() == 24);
}

TEST_CASE("speculative generation: SmolLM2 f32 with its own Q4_1 file as the draft keeps the target's ids",
          "[speculative][smollm2]") {
  const fs::path model =
      fs::path(SABRE_TEST_FIXTURES).parent_path().parent_path() / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(model)) {
    WARN("SKIPPED: " << model.string() << " is missing (run scripts/fetch-default-model)");
    return;
  }
  CpuBackend backend{CpuBackendOptions{2, true}};
  WeightOptions f32;
  f32.gguf = GgufWeights::f32;
  Loaded target(model, backend, f32);
  Loaded draft(model, backend);  // quantised
  const std::vector<int32_t> prompt = {504, 3575, 282, 4649, 314};  // "The capital of France is"
  const GenerationResult plain = generate(*target.model, prompt, greedy(24));
  DraftModelProposer proposer(*draft.model, target.checkpoint.config.vocab_size, 64);
  SpeculationStats stats;
  const GenerationResult fast = generate_speculative(*target.model, proposer, 4, prompt, greedy(24), {}, &stats);
  CHECK(fast.tokens == plain.tokens);
  CHECK(stats.acceptance_rate() > 0.5);

  Loaded tiny(fixture("llama_gqa_untied"), backend);
  CHECK_THROWS_WITH(DraftModelProposer(*tiny.model, target.checkpoint.config.vocab_size, 64),
                    Catch::Contains("256") && Catch::Contains("49152"));
}
