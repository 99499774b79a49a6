#include "model/ngram_proposer.hpp"

#include <algorithm>
#include <stdexcept>

namespace sabre {

std::vector<int32_t> propose_ngram(std::span<const int32_t> tokens, int32_t k, const NgramOptions& options) {
  if (options.min_ngram < 1 || options.max_ngram < options.min_ngram) {
    throw std::invalid_argument("prompt lookup: min_ngram must be at least 1 and at most max_ngram");
  }
  if (k <= 0) return {};
  const auto window = static_cast<size_t>(std::max(options.max_window, 2));
  if (tokens.size() > window) tokens = tokens.subspan(tokens.size() - window);
  const auto size = static_cast<int64_t>(tokens.size());
  for (int32_t n = std::min<int64_t>(options.max_ngram, size - 1); n >= options.min_ngram; --n) {
    const auto suffix = tokens.subspan(static_cast<size_t>(size - n));
    // The latest occurrence that ends before the suffix starts: start positions size-n-1 down to 0.
    for (int64_t start = size - n - 1; start >= 0; --start) {
      if (!std::equal(suffix.begin(), suffix.end(), tokens.begin() + start)) continue;
      const int64_t from = start + n;
      const int64_t take = std::min<int64_t>(k, size - from);
      return {tokens.begin() + from, tokens.begin() + from + take};
    }
  }
  return {};
}

}  // namespace sabre
