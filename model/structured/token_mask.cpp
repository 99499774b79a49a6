#include "model/structured/token_mask.hpp"

#include <vector>

namespace sabre::structured {
namespace {

class TrieWalk {
 public:
  TrieWalk(GrammarMatcher& matcher, const TokenVocabulary& vocabulary, std::span<uint32_t> words)
      : matcher_(matcher), vocabulary_(vocabulary), words_(words), scratch_(vocabulary.max_token_length() + 1) {}

  void walk(const TokenVocabulary::Node& node, const StackSet& set, size_t depth) {
    const ByteSet next = matcher_.next_bytes(set);
    const auto& nodes = vocabulary_.nodes();
    for (uint32_t c = node.first_child; c < node.first_child + node.child_count; ++c) {
      const TokenVocabulary::Node& child = nodes[c];
      if (!next.contains(child.byte)) continue;
      matcher_.advance(set, child.byte, scratch_[depth]);
      if (scratch_[depth].empty()) continue;
      for (int32_t token : vocabulary_.tokens_at(child)) {
        if (token < static_cast<int64_t>(words_.size()) * 32) words_[static_cast<size_t>(token) / 32] |= 1u << (token % 32);
      }
      // The child's set lives in scratch_[depth] (sized once, never moved); deeper levels use their own.
      if (child.child_count > 0) walk(child, scratch_[depth], depth + 1);
    }
  }

 private:
  GrammarMatcher& matcher_;
  const TokenVocabulary& vocabulary_;
  std::span<uint32_t> words_;
  std::vector<StackSet> scratch_;
};

}  // namespace

void add_grammar_tokens(GrammarMatcher& matcher, const StackSet& set, const TokenVocabulary& vocabulary,
                        std::span<uint32_t> words) {
  const size_t mark = matcher.frame_count();
  TrieWalk(matcher, vocabulary, words).walk(vocabulary.nodes()[0], set, 0);
  matcher.truncate_frames(mark);
}

}  // namespace sabre::structured
