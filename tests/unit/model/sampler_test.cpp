// Sampling: greedy, temperature, top-k, top-p, seeding and log-probabilities, checked by exact cases and
// by frequencies over many draws against the analytically filtered distribution.

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <vector>

#include "kernels/cpu/sampler.hpp"
#include "sampler_test_support.hpp"

using namespace sabre;
using namespace sabre::sampler_test;

TEST_CASE("greedy at temperature 0 picks the argmax with its logprob", "[sampler]") {
  Sampler sampler({.temperature = 0.0});
  const std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.9f};
  auto s = sampler.sample(logits);
  CHECK(s.token == 1);
  const double z = std::exp(0.1) + std::exp(3.0) + std::exp(-1.0) + std::exp(2.9);
  CHECK(s.logprob == Approx(3.0 - std::log(z)).epsilon(1e-6));
  // top_k = 1 is greedy too, whatever the temperature.
  Sampler k1({.temperature = 5.0, .top_k = 1});
  CHECK(k1.sample(logits).token == 1);
}

TEST_CASE("token_logprob is the log-softmax", "[sampler]") {
  CHECK(token_logprob(kLogits, 0) == Approx(std::log(0.5)).epsilon(1e-6));
  CHECK(token_logprob(kLogits, 4) == Approx(std::log(0.0625)).epsilon(1e-6));
  const std::vector<float> huge = {1000.0f, 1000.0f};  // stable for large logits
  CHECK(token_logprob(huge, 1) == Approx(std::log(0.5)).epsilon(1e-6));
}

TEST_CASE("temperature 1 samples the model distribution", "[sampler]") {
  auto f = frequencies({.temperature = 1.0, .seed = 1});
  CHECK(f[0] == Approx(0.5).margin(0.015));
  CHECK(f[1] == Approx(0.25).margin(0.015));
  CHECK(f[2] == Approx(0.125).margin(0.015));
  CHECK(f[3] == Approx(0.0625).margin(0.01));
}

TEST_CASE("temperature sharpens and flattens", "[sampler]") {
  // T = 0.5 squares the probabilities: [0.25, 0.0625, ...] / sum.
  auto sharp = frequencies({.temperature = 0.5, .seed = 2});
  const double z = 0.25 + 0.0625 + 0.015625 + 2 * 0.00390625;
  CHECK(sharp[0] == Approx(0.25 / z).margin(0.015));
  CHECK(sharp[1] == Approx(0.0625 / z).margin(0.015));
  auto flat = frequencies({.temperature = 100.0, .seed = 3});
  for (int32_t t = 0; t < 5; ++t) CHECK(flat[t] == Approx(0.2).margin(0.02));
}

TEST_CASE("top-k keeps the k most likely tokens", "[sampler]") {
  auto f = frequencies({.temperature = 1.0, .top_k = 2, .seed = 4});
  CHECK(f.count(2) == 0);
  CHECK(f.count(3) == 0);
  CHECK(f[0] == Approx(2.0 / 3).margin(0.015));
  CHECK(f[1] == Approx(1.0 / 3).margin(0.015));
}

TEST_CASE("top-p keeps the smallest prefix reaching p", "[sampler]") {
  // Cumulative: 0.5, 0.75, 0.875 -> p = 0.8 keeps three tokens.
  auto f = frequencies({.temperature = 1.0, .top_p = 0.8, .seed = 5});
  CHECK(f.count(3) == 0);
  CHECK(f.count(4) == 0);
  CHECK(f[0] == Approx(0.5 / 0.875).margin(0.015));
  CHECK(f[2] == Approx(0.125 / 0.875).margin(0.015));
  // A tiny p keeps only the best token.
  auto one = frequencies({.temperature = 1.0, .top_p = 0.01, .seed = 6}, 1000);
  CHECK(one[0] == Approx(1.0));
  // top-k and top-p together: k = 3 renormalises to [4/7, 2/7, 1/7], p = 0.6 then keeps two.
  auto both = frequencies({.temperature = 1.0, .top_p = 0.6, .top_k = 3, .seed = 7});
  CHECK(both.count(2) == 0);
  CHECK(both[0] == Approx(2.0 / 3).margin(0.015));
}

TEST_CASE("the same seed gives the same tokens, another seed others", "[sampler]") {
  auto run = [](uint64_t seed) {
    Sampler s({.temperature = 1.0, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(kLogits).token);
    return out;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("bad sampling parameters are rejected by name", "[sampler]") {
  CHECK_THROWS_WITH(Sampler({.temperature = -1}), Catch::Contains("temperature"));
  CHECK_THROWS_WITH(Sampler({.top_p = 0}), Catch::Contains("top_p"));
  CHECK_THROWS_WITH(Sampler({.top_p = 1.5}), Catch::Contains("top_p"));
  CHECK_THROWS_WITH(Sampler({.top_k = -2}), Catch::Contains("top_k"));
}
