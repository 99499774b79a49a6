#include "model/structured/grammar_constraint.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "model/structured/token_mask.hpp"

namespace sabre::structured {
namespace {

// With GuidedCompiler's 32 constraints, at most 128 MiB of masks in all.
constexpr size_t kCacheBytes = size_t{4} << 20;

void set_bit(std::span<uint32_t> words, int32_t token) {
  if (token >= 0 && static_cast<size_t>(token) / 32 < words.size()) words[static_cast<size_t>(token) / 32] |= 1u << (token % 32);
}

class GrammarConstraint final : public TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const CompiledGrammar> compiled, std::vector<int32_t> ends)
      : compiled_(std::move(compiled)), matcher_(compiled_->grammar()), ends_(std::move(ends)),
        current_(matcher_.initial()) {}

  void allowed_tokens(std::span<const int32_t> provisional, std::span<uint32_t> allowed) override {
    const size_t mark = matcher_.frame_count();
    const auto mask = grammar_mask_after(provisional);
    bool any = false;
    if (mask) {
      const size_t n = std::min(mask->first->size(), allowed.size());
      for (size_t i = 0; i < n; ++i) {
        allowed[i] |= (*mask->first)[i];
        any = any || (*mask->first)[i] != 0;
      }
    }
    if (!mask || !any || mask->second) {
      for (int32_t token : ends_) set_bit(allowed, token);
    }
    matcher_.truncate_frames(mark);
  }

  bool only_ends(std::span<const int32_t> provisional) override {
    const size_t mark = matcher_.frame_count();
    const auto mask = grammar_mask_after(provisional);
    bool any = false;
    if (mask) {
      for (uint32_t word : *mask->first) any = any || word != 0;
    }
    matcher_.truncate_frames(mark);
    return !any;
  }

  void commit(int32_t token) override {
    State state{current_, !finished_};
    try {
      step(state, token);
    } catch (const GrammarTooAmbiguous& e) {
      spdlog::warn("guided decoding: {}; the sequence may only end now", e.what());
      state.live = false;
    }
    current_ = std::move(state.set);
    finished_ = !state.live;
  }

 private:
  struct State {
    StackSet set;
    bool live = true;  // false: finished (an end token came) or broken (a token the grammar refused)
  };

  bool is_end(int32_t token) const { return std::find(ends_.begin(), ends_.end(), token) != ends_.end(); }

  void step(State& state, int32_t token) {
    if (!state.live) return;
    const std::string* bytes = compiled_->vocabulary().bytes(token);
    if (is_end(token) || bytes == nullptr) {
      state.live = false;
      return;
    }
    StackSet next;
    for (char c : *bytes) {
      matcher_.advance(state.set, static_cast<uint8_t>(c), next);
      state.set.swap(next);
      if (state.set.empty()) {
        state.live = false;
        return;
      }
    }
  }

  // The grammar's tokens after `provisional` and whether the grammar may end there; nullopt when the
  // constraint is finished, broken by a provisional token, or too ambiguous to follow.
  std::optional<std::pair<std::shared_ptr<const std::vector<uint32_t>>, bool>> grammar_mask_after(
      std::span<const int32_t> provisional) {
    try {
      const State state = after(provisional);
      if (!state.live) return std::nullopt;
      return std::pair(compiled_->grammar_mask(matcher_, state.set), GrammarMatcher::can_end(state.set));
    } catch (const GrammarTooAmbiguous& e) {
      spdlog::warn("guided decoding: {}; the sequence may only end now", e.what());
      return std::nullopt;
    }
  }

  State after(std::span<const int32_t> provisional) {
    State state{current_, !finished_};
    for (int32_t token : provisional) step(state, token);
    return state;
  }

  std::shared_ptr<const CompiledGrammar> compiled_;
  GrammarMatcher matcher_;
  std::vector<int32_t> ends_;
  StackSet current_;
  bool finished_ = false;
};

}  // namespace

CompiledGrammar::CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                                 std::vector<int32_t> fallback_ends, size_t max_mask_work)
    : grammar_(std::move(grammar)),
      vocabulary_(std::move(vocabulary)),
      fallback_ends_(std::move(fallback_ends)),
      max_mask_work_(max_mask_work) {
  const size_t mask_bytes = static_cast<size_t>((vocabulary_->size() + 31) / 32) * 4;
  max_cached_ = std::max<size_t>(64, kCacheBytes / std::max<size_t>(mask_bytes, 1));
  // A grammar too ambiguous to start, or to compute its first mask, is refused here, at compile time.
  GrammarMatcher check(grammar_);
  grammar_mask(check, check.initial());
}

std::unique_ptr<TokenConstraint> CompiledGrammar::start(std::span<const int32_t> end_tokens) const {
  std::vector<int32_t> ends(end_tokens.begin(), end_tokens.end());
  if (ends.empty()) ends = fallback_ends_;
  return std::make_unique<GrammarConstraint>(shared_from_this(), std::move(ends));
}

std::shared_ptr<const std::vector<uint32_t>> CompiledGrammar::grammar_mask(GrammarMatcher& matcher,
                                                                          const StackSet& set) const {
  const std::vector<uint32_t> content = matcher.content_key(set);
  std::string key(reinterpret_cast<const char*>(content.data()), content.size() * sizeof(uint32_t));
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      ++stats_.hits;
      return it->second;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  auto mask = std::make_shared<std::vector<uint32_t>>(static_cast<size_t>((vocabulary_->size() + 31) / 32), 0u);
  add_grammar_tokens(matcher, set, *vocabulary_, *mask, max_mask_work_);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(mutex_);
  ++stats_.misses;
  stats_.miss_seconds += seconds;
  if (cache_.size() >= max_cached_) cache_.clear();
  cache_.emplace(std::move(key), mask);
  return mask;
}

MaskCacheStats CompiledGrammar::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace sabre::structured
