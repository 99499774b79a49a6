#include "model/structured/token_mask.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <vector>

namespace sabre::structured {
namespace {

// Walks the trie once for one set of parses. Two things keep it fast where almost every token is allowed
// (inside a JSON string, say): advancing a parse by a byte is computed once per (parse, byte) and reused
// across the trie's nodes, and where a byte brings a set back to itself (a loop such as "any character
// of a string"), a subtree whose bytes all loop is allowed whole without being walked.
class TrieWalk {
 public:
  TrieWalk(GrammarMatcher& matcher, const TokenVocabulary& vocabulary, std::span<uint32_t> words, size_t max_work)
      : matcher_(matcher),
        vocabulary_(vocabulary),
        words_(words),
        scratch_(vocabulary.max_token_length() + 1),
        max_work_(max_work) {}

  void walk(uint32_t node_index, const StackSet& set, size_t depth) {
    const TokenVocabulary::Node& node = vocabulary_.nodes()[node_index];
    const ByteSet next = matcher_.next_bytes(set);
    std::optional<ByteSet> loop;  // computed when a byte first brings the set back to itself
    for (uint32_t c = node.first_child; c < node.first_child + node.child_count; ++c) {
      const TokenVocabulary::Node& child = vocabulary_.nodes()[c];
      if (!next.contains(child.byte)) continue;
      StackSet& after = scratch_[depth];
      advance(set, child.byte, after);
      if (after.empty()) continue;
      if (after == set) {
        if (!loop) loop = looping_bytes(set, next);
        if (subset(vocabulary_.bytes_below(c), *loop)) {
          for (int32_t token : vocabulary_.tokens_under(child)) allow(token);
          continue;
        }
      }
      for (int32_t token : vocabulary_.tokens_at(child)) allow(token);
      // The child's set lives in scratch_[depth] (sized once, never moved); deeper levels use their own.
      if (child.child_count > 0) walk(c, after, depth + 1);
    }
  }

 private:
  static bool subset(const ByteSet& a, const ByteSet& b) {
    for (size_t i = 0; i < a.words.size(); ++i) {
      if (a.words[i] & ~b.words[i]) return false;
    }
    return true;
  }

  void allow(int32_t token) {
    if (static_cast<size_t>(token) / 32 < words_.size()) words_[static_cast<size_t>(token) / 32] |= 1u << (token % 32);
  }

  // The parses of one top after a byte, computed once per walk.
  const StackSet& advanced_top(int32_t top, uint8_t byte) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(top)) << 8) | byte;
    auto it = memo_.find(key);
    if (it == memo_.end()) {
      StackSet one{top}, out;
      const size_t before = matcher_.expansions();
      matcher_.advance(one, byte, out);
      spend(1 + matcher_.expansions() - before);
      it = memo_.emplace(key, std::move(out)).first;
    }
    return it->second;
  }

  // Counts `steps` against the walk's budget.
  void spend(size_t steps) {
    work_ += steps;
    if (work_ > max_work_) {
      throw GrammarTooAmbiguous(fmt::format("grammar: one token mask needs more than {} parse steps over this "
                                            "vocabulary (the constraint is too ambiguous)",
                                            max_work_));
    }
  }

  void advance(const StackSet& set, uint8_t byte, StackSet& out) {
    spend(set.size());
    out.clear();
    for (int32_t top : set) {
      if (top == kAccepted) continue;
      const StackSet& part = advanced_top(top, byte);
      out.insert(out.end(), part.begin(), part.end());
    }
    if (set.size() > 1) {
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
    }
  }

  // The bytes after which `set` is itself again (kept per set of one parse, the common case).
  ByteSet looping_bytes(const StackSet& set, const ByteSet& next) {
    if (set.size() == 1) {
      if (auto it = loops_.find(set.front()); it != loops_.end()) return it->second;
    }
    ByteSet loop;
    StackSet after;
    for (int b = 0; b < 256; ++b) {
      if (!next.contains(static_cast<uint8_t>(b))) continue;
      advance(set, static_cast<uint8_t>(b), after);
      if (after == set) loop.add(static_cast<uint8_t>(b));
    }
    if (set.size() == 1) loops_.emplace(set.front(), loop);
    return loop;
  }

  GrammarMatcher& matcher_;
  const TokenVocabulary& vocabulary_;
  std::span<uint32_t> words_;
  std::vector<StackSet> scratch_;
  std::unordered_map<uint64_t, StackSet> memo_;
  std::unordered_map<int32_t, ByteSet> loops_;
  size_t max_work_;
  size_t work_ = 0;
};

}  // namespace

void add_grammar_tokens(GrammarMatcher& matcher, const StackSet& set, const TokenVocabulary& vocabulary,
                        std::span<uint32_t> words, size_t max_work) {
  const size_t mark = matcher.frame_count();
  try {
    TrieWalk(matcher, vocabulary, words, max_work).walk(0, set, 0);
  } catch (...) {
    matcher.truncate_frames(mark);
    throw;
  }
  matcher.truncate_frames(mark);
}

}  // namespace sabre::structured
