// The sampling contract (kernels/sampling.hpp): Philox4x32-10 against Random123's known answers; a draw
// is a function of (seed, stream, index) alone; distribution() changes nothing; provisional tokens count
// exactly as committed ones do; sampling without commit can be repeated; the backend's operations
// (distributions, sample, commit) agree with the sampler's and check what rows name.

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/sampler.hpp"
#include "kernels/philox.hpp"

using namespace sabre;

namespace {

// 32 tokens with random-looking logits.
std::vector<float> logits_of(uint32_t salt) {
  std::vector<float> logits(32);
  for (size_t i = 0; i < logits.size(); ++i) {
    logits[i] = static_cast<float>(philox4x32_10({static_cast<uint32_t>(i), salt, 0, 0}, {7, 7})[0] % 1000) / 250.0f;
  }
  return logits;
}

}  // namespace

TEST_CASE("Philox4x32-10 gives Random123's known answers", "[sampling]") {
  CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("sampling_uniform lies in 0 to 1, is keyed by seed, stream and index, and is uniform", "[sampling]") {
  const double u = sampling_uniform(1, 2, 3);
  CHECK(u == sampling_uniform(1, 2, 3));
  CHECK(u != sampling_uniform(2, 2, 3));
  CHECK(u != sampling_uniform(1, 3, 3));
  CHECK(u != sampling_uniform(1, 2, 4));
  std::vector<int> buckets(10, 0);
  double lowest = 1, highest = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    const double v = sampling_uniform(42, 0, i);
    lowest = std::min(lowest, v);
    highest = std::max(highest, v);
    ++buckets[static_cast<size_t>(v * 10)];
  }
  CHECK(lowest >= 0.0);
  CHECK(highest < 1.0);
  for (int count : buckets) CHECK(std::abs(count - 10000) < 400);  // about 4 standard deviations
}

TEST_CASE("distribution() changes nothing, and sampling without commit repeats its draw", "[sampling]") {
  Sampler sampler({.temperature = 1.0, .top_p = 0.9, .seed = 5, .presence_penalty = 0.5});
  const auto logits = logits_of(1);
  const Distribution first = sampler.distribution(logits);
  const Distribution again = sampler.distribution(logits);
  CHECK(first.tokens == again.tokens);
  CHECK(first.weights == again.weights);
  CHECK(sampler.generated_count() == 0);
  // Without commit the history and the draw's number stay: the same token every time.
  const int32_t token = sampler.sample(logits, /*commit=*/false).token;
  for (int i = 0; i < 20; ++i) CHECK(sampler.sample(logits, false).token == token);
  CHECK(sampler.generated_count() == 0);
  // With commit it is the same token, and then the history moves on.
  CHECK(sampler.sample(logits).token == token);
  CHECK(sampler.generated_count() == 1);
}

TEST_CASE("provisional tokens count exactly as committed ones: penalties, min_tokens and the draw's number",
          "[sampling]") {
  const SamplingParams params{.temperature = 0.8, .top_k = 12, .seed = 99, .repetition_penalty = 1.3,
                              .presence_penalty = 0.4, .frequency_penalty = 0.3, .min_tokens = 3,
                              .stop_token_ids = {5}};
  const std::vector<int32_t> prompt = {1, 2, 3};
  const std::vector<int32_t> history = {7, 9, 7};
  Sampler committed(params, prompt);
  for (int32_t t : history) committed.commit(t);
  Sampler speculating(params, prompt);
  for (uint32_t step = 0; step < 40; ++step) {
    const auto logits = logits_of(step + 10);
    const Distribution& a = committed.distribution(logits);
    const std::vector<int32_t> tokens_a = a.tokens;
    const std::vector<float> weights_a = a.weights;
    const Distribution& b = speculating.distribution(logits, history);
    CHECK(b.tokens == tokens_a);
    CHECK(b.weights == weights_a);
    CHECK(speculating.sample(logits, false, history).token == committed.sample(logits, false).token);
  }
  // min_tokens: with two provisional tokens the stop id is still masked, with three it is not.
  std::vector<float> favour_stop(32, 0.0f);
  favour_stop[5] = 20.0f;
  Sampler fresh({.temperature = 0.0, .min_tokens = 3, .stop_token_ids = {5}});
  CHECK(fresh.sample(favour_stop, false, std::vector<int32_t>{1, 2}).token != 5);
  CHECK(fresh.sample(favour_stop, false, std::vector<int32_t>{1, 2, 3}).token == 5);
}

TEST_CASE("the backend samples with registered samplers: distributions, draws and commits", "[sampling]") {
  CpuBackend backend(1);
  const auto row0 = logits_of(3), row1 = logits_of(4);
  std::vector<float> logits(row0);
  logits.insert(logits.end(), row1.begin(), row1.end());
  const std::vector<SamplerSpec> specs = {{11, {.temperature = 1.0, .top_p = 0.8, .seed = 3}, {}, {}, 0},
                                          {12, {.temperature = 0.0}, {}, {}, 0},
                                          {13, {.temperature = 1.0, .top_p = 0.8, .seed = 3}, {}, {}, 1}};
  backend.add_samplers(specs);
  CHECK(backend.num_samplers() == 3);

  // Distributions: probabilities summing to one, zero outside the candidates, one-hot for greedy.
  std::vector<SampleRow> rows = {{0, 11, true, {}}, {1, 12, true, {}}};
  std::vector<float> probabilities(2 * 32);
  backend.distributions(logits.data(), 2, 32, rows, probabilities.data());
  CHECK(std::accumulate(probabilities.begin(), probabilities.begin() + 32, 0.0) == Approx(1.0));
  CHECK(std::count(probabilities.begin(), probabilities.begin() + 32, 0.0f) > 0);  // top_p removed some
  const auto argmax1 = std::max_element(row1.begin(), row1.end()) - row1.begin();
  CHECK(probabilities[32 + static_cast<size_t>(argmax1)] == 1.0f);

  // The backend's draw is the sampler's: a Sampler of the same spec samples the same tokens.
  Sampler mirror(specs[0].params);
  std::vector<SampledToken> out;
  for (int i = 0; i < 10; ++i) {
    backend.sample(logits.data(), 2, 32, rows, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].token == mirror.sample(row0).token);
    CHECK(out[1].token == argmax1);
    CHECK(probabilities[static_cast<size_t>(out[0].token)] > 0);
  }
  // Another stream under the same seed draws other numbers.
  std::vector<int32_t> stream0, stream1;
  for (int i = 0; i < 20; ++i) {
    backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{0, 11, true, {}}, {0, 13, true, {}}}, out);
    stream0.push_back(out[0].token);
    stream1.push_back(out[1].token);
  }
  CHECK(stream0 != stream1);

  // A commit through the backend is what a committing sample does.
  backend.add_samplers(std::vector<SamplerSpec>{{21, {.temperature = 1.0, .seed = 8, .presence_penalty = 1.0}, {}, {}, 0},
                                                {22, {.temperature = 1.0, .seed = 8, .presence_penalty = 1.0}, {}, {}, 0}});
  backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{0, 21, true, {}}}, out);
  backend.commit(std::vector<CommittedToken>{{22, out[0].token}});
  std::vector<SampledToken> a, b;
  backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{1, 21, true, {}}}, a);
  backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{1, 22, true, {}}}, b);
  CHECK(a[0].token == b[0].token);

  // Rows must name a registered sampler and a logits row of the step.
  CHECK_THROWS_WITH(backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{0, 99, true, {}}}, out),
                    Catch::Contains("no sampler is registered for sequence 99"));
  CHECK_THROWS_WITH(backend.sample(logits.data(), 2, 32, std::vector<SampleRow>{{2, 11, true, {}}}, out),
                    Catch::Contains("logits row 2"));
  backend.release_samplers(std::vector<uint64_t>{11, 12, 13, 21, 22, 404});
  CHECK(backend.num_samplers() == 0);
}
