#include "kernels/speculative.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/philox.hpp"

namespace sabre {
namespace {

// Streams of their own, so that acceptance tests and corrective draws never reuse an ordinary draw's
// number (which the draft's own sampling may have consumed).
constexpr uint64_t kAcceptStream = uint64_t{1} << 62;
constexpr uint64_t kResidualStream = uint64_t{1} << 63;

// The id whose cumulative weight first exceeds u * total; the last id with weight when rounding leaves
// u * total at the very end.
int32_t draw(std::span<const double> weights, double u) {
  double total = 0;
  for (double w : weights) total += w;
  const double threshold = u * total;
  double running = 0;
  int32_t last = -1;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    running += weights[i];
    last = static_cast<int32_t>(i);
    if (running > threshold) return last;
  }
  return last;
}

}  // namespace

VerifiedRun verify_speculation(std::span<const int32_t> proposed, std::span<const float> draft,
                               std::span<const float> target, int64_t vocab, const SpeculationRandom& random) {
  const auto k = static_cast<int64_t>(proposed.size());
  const auto v = static_cast<size_t>(vocab);
  if (vocab <= 0 || static_cast<int64_t>(target.size()) != (k + 1) * vocab ||
      (!draft.empty() && static_cast<int64_t>(draft.size()) != k * vocab)) {
    throw std::invalid_argument(fmt::format(
        "speculative verification: {} proposed tokens need {} target and {} (or no) draft probabilities of a "
        "vocabulary of {}; got {} and {}",
        k, (k + 1) * vocab, k * vocab, vocab, target.size(), draft.size()));
  }
  VerifiedRun run;
  std::vector<double> residual(v);
  for (int64_t i = 0; i < k; ++i) {
    const int32_t token = proposed[static_cast<size_t>(i)];
    if (token < 0 || token >= vocab) {
      throw std::invalid_argument(fmt::format("speculative verification: proposed id {} outside the vocabulary of {}",
                                              token, vocab));
    }
    const std::span<const float> p = target.subspan(static_cast<size_t>(i) * v, v);
    const double q_token = draft.empty() ? 1.0 : draft[static_cast<size_t>(i) * v + static_cast<size_t>(token)];
    const double p_token = p[static_cast<size_t>(token)];
    const uint64_t index = random.first_index + static_cast<uint64_t>(i);
    const double u = sampling_uniform(random.seed, random.stream ^ kAcceptStream, index);
    if (q_token > 0 && u * q_token < p_token) {  // u < p/q, i.e. accepted with min(1, p/q)
      run.tokens.push_back(token);
      ++run.accepted;
      continue;
    }
    // Rejected: the token comes from max(0, p - q), normalised (q one-hot when there is no draft row).
    for (size_t t = 0; t < v; ++t) {
      const double q = draft.empty() ? (static_cast<int32_t>(t) == token ? 1.0 : 0.0) : draft[static_cast<size_t>(i) * v + t];
      residual[t] = std::max(0.0, static_cast<double>(p[t]) - q);
    }
    int32_t corrected = draw(residual, sampling_uniform(random.seed, random.stream ^ kResidualStream, index));
    if (corrected < 0) {
      // p equals q wherever p has mass (only possible when p_token >= q_token, which was accepted
      // unless rounding intervened): draw from p itself.
      for (size_t t = 0; t < v; ++t) residual[t] = p[t];
      corrected = draw(residual, sampling_uniform(random.seed, random.stream ^ kResidualStream, index));
    }
    run.tokens.push_back(corrected);
    return run;
  }
  // Every proposal accepted: one more token from the target's last distribution.
  const std::span<const float> last = target.subspan(static_cast<size_t>(k) * v, v);
  for (size_t t = 0; t < v; ++t) residual[t] = last[t];
  const uint64_t index = random.first_index + static_cast<uint64_t>(k);
  run.tokens.push_back(draw(residual, sampling_uniform(random.seed, random.stream ^ kResidualStream, index)));
  return run;
}

SampledToken scored_token(std::span<const float> logits, int32_t token, int32_t top_logprobs) {
  const float top = *std::max_element(logits.begin(), logits.end());
  // Single-precision exponentials (each term is within 1e-7 of the double one, and the sum in double
  // loses nothing): a prompt being scored computes this for every one of its tokens.
  double sum = 0;
  for (float x : logits) sum += std::exp(x - top);
  const double log_sum = std::log(sum) + top;
  SampledToken out;
  out.token = token;
  out.logprob = static_cast<float>(static_cast<double>(logits[static_cast<size_t>(token)]) - log_sum);
  if (top_logprobs > 0) {
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    const auto n = std::min<size_t>(static_cast<size_t>(top_logprobs), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), [&](int32_t a, int32_t b) {
      const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
      return la != lb ? la > lb : a < b;
    });
    for (size_t i = 0; i < n; ++i) {
      out.top_logprobs.push_back(
          {ids[i], static_cast<float>(static_cast<double>(logits[static_cast<size_t>(ids[i])]) - log_sum)});
    }
  }
  return out;
}

}  // namespace sabre
