#include "model/structured/token_vocabulary.hpp"

#include <algorithm>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre::structured {

TokenVocabulary::TokenVocabulary(std::vector<std::optional<std::string>> token_bytes, int64_t size)
    : size_(std::max<int64_t>(size, static_cast<int64_t>(token_bytes.size()))), bytes_(std::move(token_bytes)) {
  std::vector<int32_t> ids;
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (bytes_[id] && !bytes_[id]->empty()) {
      ids.push_back(static_cast<int32_t>(id));
      max_length_ = std::max(max_length_, bytes_[id]->size());
    }
  }
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    const std::string& x = *bytes_[static_cast<size_t>(a)];
    const std::string& y = *bytes_[static_cast<size_t>(b)];
    return x != y ? x < y : a < b;
  });
  token_ids_.reserve(ids.size());
  nodes_.emplace_back();
  build(ids.begin(), ids.end(), 0, 0);
  // Children come after their parent, so one backward pass gathers the bytes below every node.
  bytes_below_.resize(nodes_.size());
  for (size_t n = nodes_.size(); n-- > 0;) {
    for (uint32_t c = nodes_[n].first_child; c < nodes_[n].first_child + nodes_[n].child_count; ++c) {
      bytes_below_[n].add(nodes_[c].byte);
      bytes_below_[n] |= bytes_below_[c];
    }
  }
}

// `begin..end`: the tokens (sorted by bytes) under `node`, whose first `depth` bytes are its prefix.
void TokenVocabulary::build(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end, size_t depth,
                            uint32_t node) {
  const auto length = [&](int32_t id) { return bytes_[static_cast<size_t>(id)]->size(); };
  const auto byte_at = [&](int32_t id) { return static_cast<uint8_t>((*bytes_[static_cast<size_t>(id)])[depth]); };
  // Tokens that end here sort first (a prefix sorts before what extends it).
  auto it = begin;
  nodes_[node].first_token = static_cast<uint32_t>(token_ids_.size());
  while (it != end && length(*it) == depth) token_ids_.push_back(*it++);
  nodes_[node].token_count = static_cast<uint32_t>(token_ids_.size()) - nodes_[node].first_token;
  // One child per distinct next byte, allocated together so that they are contiguous.
  std::vector<std::pair<std::vector<int32_t>::iterator, std::vector<int32_t>::iterator>> groups;
  while (it != end) {
    const uint8_t b = byte_at(*it);
    auto group_end = std::find_if(it, end, [&](int32_t id) { return byte_at(id) != b; });
    groups.emplace_back(it, group_end);
    it = group_end;
  }
  const auto first = static_cast<uint32_t>(nodes_.size());
  nodes_[node].first_child = first;
  nodes_[node].child_count = static_cast<uint32_t>(groups.size());
  for (const auto& group : groups) {
    Node child;
    child.byte = byte_at(*group.first);
    nodes_.push_back(child);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    build(groups[i].first, groups[i].second, depth + 1, first + static_cast<uint32_t>(i));
  }
  nodes_[node].subtree_end = static_cast<uint32_t>(token_ids_.size());
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::of(const Tokenizer& tokenizer, int64_t size) {
  std::vector<std::optional<std::string>> bytes(tokenizer.vocab_size());
  for (size_t id = 0; id < bytes.size(); ++id) bytes[id] = tokenizer.token_bytes(static_cast<TokenId>(id));
  return std::make_shared<const TokenVocabulary>(std::move(bytes), size);
}

const std::string* TokenVocabulary::bytes(int32_t token) const {
  if (token < 0 || static_cast<size_t>(token) >= bytes_.size() || !bytes_[static_cast<size_t>(token)]) return nullptr;
  const std::string& b = *bytes_[static_cast<size_t>(token)];
  return b.empty() ? nullptr : &b;
}

}  // namespace sabre::structured
