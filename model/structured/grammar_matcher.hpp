#pragma once
// Matches bytes against a Grammar, keeping every parse that is still possible (the grammar may be
// ambiguous, and a token may end in the middle of a rule).
//
// A parse is a stack: its top is the byte element it waits for, below it the positions to return to when
// the rules it is inside finish. Stacks share their tails and are hash-consed, so equal stacks have equal
// frame ids and a set of parses is a sorted vector of ids (StackSet) that compares, hashes and dedupes
// cheaply. A rule whose reference is the last element of its alternative pushes no return frame (a tail
// call), so a repetition written as right recursion runs in constant depth however long it matches.
// kAccepted in a set means the root rule can be complete here.
//
// Frames are never freed while the matcher lives; scratch work (trying the tokens of a vocabulary) marks
// the frame count first and truncates back to it afterwards.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/structured/grammar.hpp"

namespace sabre::structured {

using StackSet = std::vector<int32_t>;
inline constexpr int32_t kAccepted = -1;

// More parses than a matcher keeps apart (an exponentially ambiguous grammar, such as ((a?){2}){2}...
// nested deep): compiling such a constraint fails with it, and a sequence that reaches such a state ends.
class GrammarTooAmbiguous : public GrammarError {
 public:
  using GrammarError::GrammarError;
};

class GrammarMatcher {
 public:
  // Throws GrammarTooAmbiguous when the grammar starts with too many parses.
  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

  // At most this many parses in one set, and (position, parent) expansions for one byte.
  static constexpr size_t kMaxStacks = 4096;
  static constexpr size_t kMaxExpansions = 65536;

  // The parses before any byte.
  const StackSet& initial() const { return initial_; }
  // The parses of `from` that accept `byte`, advanced past it (sorted, without duplicates; empty when
  // none accepts it). Throws GrammarTooAmbiguous past the limits above.
  void advance(const StackSet& from, uint8_t byte, StackSet& to);
  // Whether the root rule can be complete after the bytes that led to `set`.
  static bool can_end(const StackSet& set) { return !set.empty() && set.front() == kAccepted; }
  // The bytes some parse of `set` accepts next.
  ByteSet next_bytes(const StackSet& set) const;
  // The content of `set` (each stack's positions, top first), the same for equal sets in any matcher of
  // the same grammar: a cache key shared across sequences.
  std::vector<uint32_t> content_key(const StackSet& set) const;

  size_t frame_count() const { return frames_.size(); }
  // (position, parent) pairs expanded so far, over every advance: what advancing has cost.
  size_t expansions() const { return expansions_; }
  // Forgets the frames created after `mark` (a frame_count() taken before scratch work).
  void truncate_frames(size_t mark);
  const Grammar& grammar() const { return *grammar_; }

 private:
  struct Frame {
    uint32_t position;  // top: a byte element; below: where to continue when the rule above finishes
    int32_t parent;     // the frame below, or -1
  };
  int32_t frame(uint32_t position, int32_t parent);
  // Adds to `out` every stack that continues at `position` with `parent` below it, reduced to stacks whose
  // top is a byte element (or kAccepted).
  void expand(uint32_t position, int32_t parent, StackSet& out);
  // Ends one advance: forgets what it expanded, sorts and dedupes `set`, checks its size.
  void finish_expansion(StackSet& set);

  std::shared_ptr<const Grammar> grammar_;
  std::vector<Frame> frames_;
  std::unordered_map<uint64_t, int32_t> interned_;
  // The (position, parent) pairs one advance has expanded already, and what is left to expand.
  std::unordered_set<uint64_t> expanded_;
  size_t expansions_ = 0;
  std::vector<Frame> work_;
  StackSet initial_;
};

}  // namespace sabre::structured
