// The speculative rejection rule keeps the target's distribution: over many seeds, the first and the
// second generated token follow the target's probabilities whatever the draft proposed (chi-square
// against the target, far below the 0.1% critical value), greedy targets accept exactly their argmax,
// one-hot proposers (prompt lookup) too, and the draws are a function of (seed, stream, position).
#include <catch2/catch.hpp>

#include <array>
#include <random>

#include "kernels/speculative.hpp"

using namespace sabre;

namespace {

constexpr int64_t kVocab = 5;

// Chi-square statistic of `counts` against `probabilities` (cells with probability 0 must be empty).
double chi_square(const std::array<int64_t, kVocab>& counts, const std::array<float, kVocab>& probabilities) {
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  double chi = 0;
  for (size_t t = 0; t < kVocab; ++t) {
    if (probabilities[t] == 0) {
      REQUIRE(counts[t] == 0);
      continue;
    }
    const double expected = static_cast<double>(total) * probabilities[t];
    chi += (static_cast<double>(counts[t]) - expected) * (static_cast<double>(counts[t]) - expected) / expected;
  }
  return chi;
}

int32_t draw_from(const std::array<float, kVocab>& q, std::mt19937_64& rng) {
  std::discrete_distribution<int32_t> d(q.begin(), q.end());
  return d(rng);
}

}  // namespace

TEST_CASE("speculative verification: generated tokens follow the target's distribution", "[speculative]") {
  const std::array<float, kVocab> p1 = {0.1f, 0.4f, 0.2f, 0.3f, 0.0f}, p2 = {0.25f, 0.05f, 0.3f, 0.0f, 0.4f},
                                  p3 = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
  const std::array<float, kVocab> q1 = {0.5f, 0.1f, 0.1f, 0.1f, 0.2f}, q2 = {0.05f, 0.6f, 0.05f, 0.2f, 0.1f};
  std::vector<float> target(p1.begin(), p1.end()), draft(q1.begin(), q1.end());
  target.insert(target.end(), p2.begin(), p2.end());
  target.insert(target.end(), p3.begin(), p3.end());
  draft.insert(draft.end(), q2.begin(), q2.end());

  std::mt19937_64 rng(20261206);
  std::array<int64_t, kVocab> first{}, second{};
  int64_t accepted = 0;
  const int trials = 200000;
  for (int trial = 0; trial < trials; ++trial) {
    const std::vector<int32_t> proposed = {draw_from(q1, rng), draw_from(q2, rng)};
    const VerifiedRun run = verify_speculation(proposed, draft, target, kVocab, {static_cast<uint64_t>(trial), 0, 0});
    REQUIRE(run.tokens.size() == static_cast<size_t>(run.accepted) + 1);
    ++first[static_cast<size_t>(run.tokens[0])];
    if (run.tokens.size() >= 2) ++second[static_cast<size_t>(run.tokens[1])];
    accepted += run.accepted;
  }
  // 0.1% critical values: 16.27 (3 degrees of freedom: p1 has four candidates), 16.27 (p2 too).
  CHECK(chi_square(first, p1) < 16.27);
  CHECK(chi_square(second, p2) < 16.27);
  // The expected acceptance of the first proposal is sum_t min(p1, q1) = 0.1 + 0.1 + 0.1 + 0.1 = 0.4.
  const double first_acceptance = static_cast<double>(second[0] + second[1] + second[2] + second[3] + second[4]) / trials;
  CHECK(first_acceptance == Approx(0.4).margin(0.01));
  CHECK(accepted > 0);
}

TEST_CASE("speculative verification: a one-hot proposer (prompt lookup) keeps the target's distribution too",
          "[speculative]") {
  const std::array<float, kVocab> p1 = {0.1f, 0.4f, 0.2f, 0.3f, 0.0f}, p2 = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
  std::vector<float> target(p1.begin(), p1.end());
  target.insert(target.end(), p2.begin(), p2.end());
  std::array<int64_t, kVocab> first{};
  for (int trial = 0; trial < 100000; ++trial) {
    const VerifiedRun run = verify_speculation(std::vector<int32_t>{1}, {}, target, kVocab, {static_cast<uint64_t>(trial), 3, 7});
    ++first[static_cast<size_t>(run.tokens[0])];
  }
  CHECK(chi_square(first, p1) < 16.27);
}

TEST_CASE("speculative verification: greedy targets accept exactly their argmax, and draws repeat by seed",
          "[speculative]") {
  // One-hot target rows: argmax 2, then 0, then 4.
  std::vector<float> target(3 * kVocab, 0.0f);
  target[2] = 1;
  target[kVocab + 0] = 1;
  target[2 * kVocab + 4] = 1;
  CHECK(verify_speculation(std::vector<int32_t>{2, 0}, {}, target, kVocab, {1, 0, 0}).tokens == std::vector<int32_t>{2, 0, 4});
  const VerifiedRun second_wrong = verify_speculation(std::vector<int32_t>{2, 3}, {}, target, kVocab, {1, 0, 0});
  CHECK(second_wrong.tokens == std::vector<int32_t>{2, 0});
  CHECK(second_wrong.accepted == 1);
  const VerifiedRun first_wrong = verify_speculation(std::vector<int32_t>{1, 0}, {}, target, kVocab, {1, 0, 0});
  CHECK(first_wrong.tokens == std::vector<int32_t>{2});
  CHECK(first_wrong.accepted == 0);
  // No proposals: one token from the first row.
  CHECK(verify_speculation(std::vector<int32_t>{}, {}, std::span(target).first(kVocab), kVocab, {1, 0, 0}).tokens ==
        std::vector<int32_t>{2});

  const std::vector<float> soft = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
  const auto a = verify_speculation(std::vector<int32_t>{3}, {}, soft, kVocab, {42, 1, 10});
  const auto b = verify_speculation(std::vector<int32_t>{3}, {}, soft, kVocab, {42, 1, 10});
  CHECK(a.tokens == b.tokens);

  CHECK_THROWS_WITH(verify_speculation(std::vector<int32_t>{9}, {}, std::span(target).first(2 * kVocab), kVocab, {}),
                    Catch::Contains("outside the vocabulary"));
  CHECK_THROWS_WITH(verify_speculation(std::vector<int32_t>{1, 2}, {}, std::span(target).first(kVocab), kVocab, {}),
                    Catch::Contains("2 proposed tokens"));
}
