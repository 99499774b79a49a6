#pragma once
// The vocabulary as guided decoding sees it: each token's bytes (Tokenizer::token_bytes; special tokens
// have none and are never allowed by a grammar, only as an end of generation), arranged in a trie so that
// tokens sharing a prefix are matched against a grammar once for the prefix.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/structured/grammar.hpp"

namespace sabre {
class Tokenizer;
}

namespace sabre::structured {

class TokenVocabulary {
 public:
  struct Node {
    uint32_t first_child = 0;  // children are contiguous in nodes(), in ascending byte order
    uint32_t child_count = 0;
    uint32_t first_token = 0;  // tokens whose bytes end here, in token_ids()
    uint32_t token_count = 0;
    uint32_t subtree_end = 0;  // the tokens of the node and all below it are token_ids()[first_token, subtree_end)
    uint8_t byte = 0;          // the byte leading here from the parent
  };

  // `token_bytes[id]`: the bytes of token id (nullopt or empty: never matched). `size`: the width of the
  // logits rows (at least token_bytes.size(); ids past the tokenizer's are never allowed).
  TokenVocabulary(std::vector<std::optional<std::string>> token_bytes, int64_t size);
  // From a tokenizer; `size` as above (0: the tokenizer's vocabulary size).
  static std::shared_ptr<const TokenVocabulary> of(const Tokenizer& tokenizer, int64_t size = 0);

  int64_t size() const { return size_; }
  // The bytes of `token`, or null when it is never matched.
  const std::string* bytes(int32_t token) const;
  size_t max_token_length() const { return max_length_; }
  const std::vector<Node>& nodes() const { return nodes_; }  // nodes()[0] is the root (the empty prefix)
  std::span<const int32_t> tokens_at(const Node& node) const {
    return {token_ids_.data() + node.first_token, node.token_count};
  }
  std::span<const int32_t> tokens_under(const Node& node) const {
    return {token_ids_.data() + node.first_token, node.subtree_end - node.first_token};
  }
  // Every byte on the edges below node `index` (not the one leading to it).
  const ByteSet& bytes_below(size_t index) const { return bytes_below_[index]; }

 private:
  void build(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end, size_t depth, uint32_t node);

  int64_t size_ = 0;
  size_t max_length_ = 0;
  std::vector<std::optional<std::string>> bytes_;
  std::vector<Node> nodes_;
  std::vector<ByteSet> bytes_below_;
  std::vector<int32_t> token_ids_;
};

}  // namespace sabre::structured
