#include <catch2/catch.hpp>

#include "arrival_schedule.hpp"
#include "statistics.hpp"

using namespace sabre::loadtest;

TEST_CASE("percentiles interpolate linearly between ranks (numpy's default)", "[loadtest][stats]") {
  const std::vector<double> sorted = {1, 2, 3, 4};
  REQUIRE(percentile_of_sorted(sorted, 0) == 1);
  REQUIRE(percentile_of_sorted(sorted, 50) == Approx(2.5));
  REQUIRE(percentile_of_sorted(sorted, 90) == Approx(3.7));
  REQUIRE(percentile_of_sorted(sorted, 100) == 4);
  const std::vector<double> one = {7};
  REQUIRE(percentile_of_sorted(one, 99) == 7);
  REQUIRE_THROWS(percentile_of_sorted(std::vector<double>{}, 50));
  REQUIRE_THROWS(percentile_of_sorted(sorted, 101));
}

TEST_CASE("summary of unsorted samples", "[loadtest][stats]") {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // 1..100, reversed
  const Summary s = summarize(samples);
  REQUIRE(s.count == 100);
  REQUIRE(s.mean == Approx(50.5));
  REQUIRE(s.min == 1);
  REQUIRE(s.max == 100);
  REQUIRE(s.p50 == Approx(50.5));
  REQUIRE(s.p90 == Approx(90.1));
  REQUIRE(s.p99 == Approx(99.01));
  REQUIRE(s.stddev == Approx(28.866).epsilon(1e-4));
}

TEST_CASE("summary of no samples is all zero", "[loadtest][stats]") {
  const Summary s = summarize({});
  REQUIRE(s.count == 0);
  REQUIRE(s.mean == 0);
  REQUIRE(s.p99 == 0);
}

TEST_CASE("Poisson arrivals: seeded, increasing, mean gap 1/rate", "[loadtest][stats]") {
  const auto a = poisson_arrival_offsets(20000, 50.0, 3);
  REQUIRE(a == poisson_arrival_offsets(20000, 50.0, 3));
  REQUIRE(a != poisson_arrival_offsets(20000, 50.0, 4));
  REQUIRE(a.front() == 0);
  for (size_t i = 1; i < a.size(); ++i) REQUIRE(a[i] >= a[i - 1]);
  const double mean_gap = a.back() / static_cast<double>(a.size() - 1);
  REQUIRE(mean_gap == Approx(0.02).epsilon(0.03));
  // Exponential gaps: the coefficient of variation is 1.
  std::vector<double> gaps;
  for (size_t i = 1; i < a.size(); ++i) gaps.push_back(a[i] - a[i - 1]);
  const Summary s = summarize(gaps);
  REQUIRE(s.stddev / s.mean == Approx(1.0).epsilon(0.05));
  REQUIRE(poisson_arrival_offsets(5, INFINITY, 1) == std::vector<double>(5, 0.0));
  REQUIRE_THROWS(poisson_arrival_offsets(5, 0.0, 1));
}
