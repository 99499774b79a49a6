// [cuda] Sampling on the device against the CPU sampler: the same logits and samplers must give the same
// tokens, log-probabilities and distributions (the draw is counter-based, so equal logits mean equal
// tokens), over the parameters of the sampling order and over many seeds and steps.

#include <fmt/format.h>

#include "tests/unit/kernels_cuda/cuda_test_support.hpp"

namespace sabre::cuda_test {
namespace {

std::vector<SamplingParams> parameter_sets() {
  std::vector<SamplingParams> sets;
  const auto add = [&](auto change) {
    SamplingParams p;
    change(p);
    sets.push_back(p);
  };
  add([](SamplingParams& p) { p.temperature = 0; });
  add([](SamplingParams& p) { p.temperature = 1.0; });
  add([](SamplingParams& p) { p.temperature = 0.7; p.top_p = 0.9; });
  add([](SamplingParams& p) { p.temperature = 1.3; p.top_k = 40; });
  add([](SamplingParams& p) { p.temperature = 0.8; p.top_k = 50; p.top_p = 0.8; p.min_p = 0.05; });
  add([](SamplingParams& p) { p.top_k = 1; });
  add([](SamplingParams& p) { p.temperature = 0.9; p.repetition_penalty = 1.3; p.top_logprobs = 5; });
  add([](SamplingParams& p) { p.temperature = 1.0; p.presence_penalty = 0.5; p.frequency_penalty = 0.7; });
  add([](SamplingParams& p) {
    p.temperature = 0;
    p.logit_bias = {{3, 100.0f}, {4, -100.0f}};
    p.top_logprobs = 20;
  });
  add([](SamplingParams& p) { p.temperature = 1.0; p.min_tokens = 5; p.stop_token_ids = {0, 1, 2}; });
  return sets;
}

// Logits with a few clear favourites and a long tail, like a model's.
std::vector<float> model_like_logits(int64_t rows, int64_t vocab, uint32_t seed) {
  auto logits = random_values(static_cast<size_t>(rows * vocab), seed, 2.0f);
  std::mt19937 rng(seed + 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int i = 0; i < 5; ++i) logits[static_cast<size_t>(r * vocab + rng() % vocab)] += 8.0f;
  }
  return logits;
}

}  // namespace

TEST_CASE("cuda: sampled tokens, log-probabilities and top_logprobs equal the CPU's", "[cuda]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
  const auto sets = parameter_sets();
  for (const int64_t vocab : {1000, 151936}) {
    std::vector<SamplerSpec> specs;
    for (size_t i = 0; i < sets.size(); ++i) {
      for (uint64_t seed : {1u, 2u, 3u}) {
        SamplerSpec spec;
        spec.key = specs.size() + 1;
        spec.params = sets[i];
        spec.params.seed = seed * 1000 + i;
        spec.prompt = {5, 6, 7, 5};
        spec.eos_token_ids = {2};
        specs.push_back(spec);
      }
    }
    gpu->add_samplers(specs);
    cpu.add_samplers(specs);
    const auto rows = static_cast<int64_t>(specs.size());
    for (int step = 0; step < 8; ++step) {
      INFO(fmt::format("vocabulary {}, step {}", vocab, step));
      const auto logits = model_like_logits(rows, vocab, 100 + static_cast<uint32_t>(step));
      auto g = gpu->upload(std::span<const float>(logits));
      auto c = cpu.upload(std::span<const float>(logits));
      std::vector<SampleRow> sample_rows;
      for (int64_t r = 0; r < rows; ++r) sample_rows.push_back({static_cast<int32_t>(r), specs[static_cast<size_t>(r)].key, true, {}});
      std::vector<SampledToken> got, want;
      gpu->sample(g->data(), rows, vocab, sample_rows, got);
      cpu.sample(c->data(), rows, vocab, sample_rows, want);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("row " << i);
        CHECK(got[i].token == want[i].token);
        CHECK(got[i].logprob == Approx(want[i].logprob).margin(1e-5));
        REQUIRE(got[i].top_logprobs.size() == want[i].top_logprobs.size());
        for (size_t k = 0; k < got[i].top_logprobs.size(); ++k) {
          CHECK(got[i].top_logprobs[k].token == want[i].top_logprobs[k].token);
          CHECK(got[i].top_logprobs[k].logprob == Approx(want[i].top_logprobs[k].logprob).margin(1e-5));
        }
      }
    }
    std::vector<uint64_t> keys;
    for (const SamplerSpec& s : specs) keys.push_back(s.key);
    gpu->release_samplers(keys);
    cpu.release_samplers(keys);
  }
}

TEST_CASE("cuda: distributions with provisional tokens equal the CPU's", "[cuda]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
  const auto sets = parameter_sets();
  const int64_t vocab = 4096;
  std::vector<SamplerSpec> specs;
  for (size_t i = 0; i < sets.size(); ++i) specs.push_back({i + 1, sets[i], {9, 9, 10}, {2}, 0});
  gpu->add_samplers(specs);
  cpu.add_samplers(specs);
  const auto rows = static_cast<int64_t>(specs.size());
  const auto logits = model_like_logits(rows, vocab, 7);
  auto g = gpu->upload(std::span<const float>(logits));
  auto c = cpu.upload(std::span<const float>(logits));
  std::vector<SampleRow> sample_rows;
  for (int64_t r = 0; r < rows; ++r) sample_rows.push_back({static_cast<int32_t>(r), specs[static_cast<size_t>(r)].key, false, {11, 9}});
  auto gp = gpu->allocate(rows * vocab);
  auto cp = cpu.allocate(rows * vocab);
  gpu->distributions(g->data(), rows, vocab, sample_rows, gp->data());
  cpu.distributions(c->data(), rows, vocab, sample_rows, cp->data());
  const auto got = get(*gpu, *gp, static_cast<size_t>(rows * vocab));
  const auto want = get(cpu, *cp, static_cast<size_t>(rows * vocab));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  CHECK(worst < 1e-6);
}

TEST_CASE("cuda: sampling errors name the row's problem and commit nothing", "[cuda]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  const int64_t vocab = 50;
  SamplingParams masked;
  masked.logit_bias = {};
  masked.min_tokens = 3;
  masked.stop_token_ids = {};
  SamplerSpec spec{1, masked, {}, {}, 0};
  gpu->add_samplers(std::span(&spec, 1));
  std::vector<float> logits(vocab, -INFINITY);
  logits[7] = 0.0f;  // the only finite logit is an eos id while min_tokens masks it
  SamplerSpec eos_spec{2, masked, {}, {7}, 0};
  gpu->add_samplers(std::span(&eos_spec, 1));
  auto g = gpu->upload(std::span<const float>(logits));
  std::vector<SampledToken> out;
  const std::vector<SampleRow> masked_row = {{0, 2, true, {}}};
  CHECK_THROWS_WITH(gpu->sample(g->data(), 1, vocab, masked_row, out), Catch::Contains("masked"));
  const std::vector<SampleRow> unknown = {{0, 99, true, {}}};
  CHECK_THROWS_WITH(gpu->sample(g->data(), 1, vocab, unknown, out), Catch::Contains("sequence 99"));
  const std::vector<SampleRow> out_of_range = {{3, 1, true, {}}};
  CHECK_THROWS_WITH(gpu->sample(g->data(), 1, vocab, out_of_range, out), Catch::Contains("logits row 3"));
  // The sampler that failed committed nothing: its next draw is still its first.
  const std::vector<SampleRow> fine = {{0, 1, true, {}}};
  gpu->sample(g->data(), 1, vocab, fine, out);
  CHECK(out.at(0).token == 7);
}

}  // namespace sabre::cuda_test
