#include "model/structured/grammar_matcher.hpp"

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

// Rules nest at most this deep through references that consume nothing yet; past it, a grammar is
// treated as one that matches nothing there (left recursion is refused when it is lowered).
constexpr int kMaxExpansionDepth = 10'000;

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  for (uint32_t start : grammar_->alternatives[grammar_->root]) expand(start, -1, initial_, 0);
  expanded_.clear();
  sort_unique(initial_);
}

int32_t GrammarMatcher::frame(uint32_t position, int32_t parent) {
  auto [it, added] = interned_.emplace(frame_key(position, parent), static_cast<int32_t>(frames_.size()));
  if (added) frames_.push_back({position, parent});
  return it->second;
}

void GrammarMatcher::expand(uint32_t position, int32_t parent, StackSet& out, int depth) {
  if (depth > kMaxExpansionDepth) return;
  if (grammar_->has_empty_loops && !expanded_.insert(frame_key(position, parent)).second) return;
  const Element& element = grammar_->at(position);
  switch (element.kind) {
    case Element::Kind::bytes:
      out.push_back(frame(position, parent));
      return;
    case Element::Kind::end:
      if (parent < 0) {
        out.push_back(kAccepted);
      } else {
        const Frame below = frames_[static_cast<size_t>(parent)];
        expand(below.position, below.parent, out, depth + 1);
      }
      return;
    case Element::Kind::rule: {
      // The return frame is skipped when nothing follows the reference (a tail call).
      const bool tail = grammar_->at(position + 1).kind == Element::Kind::end;
      const int32_t return_to = tail ? parent : frame(position + 1, parent);
      for (uint32_t start : grammar_->alternatives[element.value]) expand(start, return_to, out, depth + 1);
      return;
    }
  }
}

void GrammarMatcher::advance(const StackSet& from, uint8_t byte, StackSet& to) {
  to.clear();
  for (int32_t top : from) {
    if (top == kAccepted) continue;
    const Frame f = frames_[static_cast<size_t>(top)];
    if (grammar_->set_at(f.position).contains(byte)) expand(f.position + 1, f.parent, to, 0);
  }
  expanded_.clear();
  sort_unique(to);
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
