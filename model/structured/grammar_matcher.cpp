#include "model/structured/grammar_matcher.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sabre::structured {
namespace {

using Element = Grammar::Element;

uint64_t frame_key(uint32_t position, int32_t parent) {
  return (uint64_t{position} << 32) | static_cast<uint32_t>(parent + 1);
}

void sort_unique(StackSet& set) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  for (uint32_t start : grammar_->alternatives[grammar_->root]) expand(start, -1, initial_);
  finish_expansion(initial_);
}

int32_t GrammarMatcher::frame(uint32_t position, int32_t parent) {
  auto [it, added] = interned_.emplace(frame_key(position, parent), static_cast<int32_t>(frames_.size()));
  if (added) frames_.push_back({position, parent});
  return it->second;
}

// Iterative, so that a long chain of rules that may be empty cannot overflow the C++ stack; every
// (position, parent) pair is expanded once per advance, which also ends loops of empty tail references
// and keeps an ambiguous grammar's duplicate parses from being explored twice.
void GrammarMatcher::expand(uint32_t position, int32_t parent, StackSet& out) {
  work_.push_back({position, parent});
  while (!work_.empty()) {
    const Frame item = work_.back();
    work_.pop_back();
    if (!expanded_.insert(frame_key(item.position, item.parent)).second) continue;
    ++expansions_;
    if (expanded_.size() > kMaxExpansions) {
      work_.clear();
      throw GrammarTooAmbiguous(fmt::format("grammar: one byte keeps more than {} parses apart (the constraint is "
                                            "too ambiguous)", kMaxExpansions));
    }
    const Element& element = grammar_->at(item.position);
    switch (element.kind) {
      case Element::Kind::bytes:
        out.push_back(frame(item.position, item.parent));
        break;
      case Element::Kind::end:
        if (item.parent < 0) {
          out.push_back(kAccepted);
        } else {
          work_.push_back(frames_[static_cast<size_t>(item.parent)]);  // continue where the rule was called
        }
        break;
      case Element::Kind::rule: {
        // The return frame is skipped when nothing follows the reference (a tail call).
        const bool tail = grammar_->at(item.position + 1).kind == Element::Kind::end;
        const int32_t return_to = tail ? item.parent : frame(item.position + 1, item.parent);
        const auto& starts = grammar_->alternatives[element.value];
        for (auto it = starts.rbegin(); it != starts.rend(); ++it) work_.push_back({*it, return_to});
        break;
      }
    }
  }
}

void GrammarMatcher::finish_expansion(StackSet& set) {
  expanded_.clear();
  sort_unique(set);
  if (set.size() > kMaxStacks) {
    throw GrammarTooAmbiguous(fmt::format("grammar: more than {} parses at once (the constraint is too ambiguous)",
                                          kMaxStacks));
  }
}

void GrammarMatcher::advance(const StackSet& from, uint8_t byte, StackSet& to) {
  to.clear();
  for (int32_t top : from) {
    if (top == kAccepted) continue;
    const Frame f = frames_[static_cast<size_t>(top)];
    if (grammar_->set_at(f.position).contains(byte)) expand(f.position + 1, f.parent, to);
  }
  finish_expansion(to);
}

ByteSet GrammarMatcher::next_bytes(const StackSet& set) const {
  ByteSet bytes;
  for (int32_t top : set) {
    if (top != kAccepted) bytes |= grammar_->set_at(frames_[static_cast<size_t>(top)].position);
  }
  return bytes;
}

std::vector<uint32_t> GrammarMatcher::content_key(const StackSet& set) const {
  std::vector<std::vector<uint32_t>> stacks;
  for (int32_t top : set) {
    std::vector<uint32_t> stack;
    for (int32_t f = top; f >= 0; f = frames_[static_cast<size_t>(f)].parent) {
      stack.push_back(frames_[static_cast<size_t>(f)].position);
    }
    stacks.push_back(std::move(stack));  // kAccepted: the empty stack
  }
  std::sort(stacks.begin(), stacks.end());
  std::vector<uint32_t> key;
  for (const auto& stack : stacks) {
    key.insert(key.end(), stack.begin(), stack.end());
    key.push_back(UINT32_MAX);  // no position is this large
  }
  return key;
}

void GrammarMatcher::truncate_frames(size_t mark) {
  while (frames_.size() > mark) {
    const Frame& f = frames_.back();
    interned_.erase(frame_key(f.position, f.parent));
    frames_.pop_back();
  }
}

}  // namespace sabre::structured
