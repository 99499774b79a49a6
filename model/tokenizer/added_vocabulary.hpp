#pragma once
// The "added_tokens" of tokenizer.json (special tokens such as <|im_start|>, and plain added words):
// found in the text before the model sees it, with the lstrip / rstrip / single_word / normalized
// flags that `tokenizers` honours.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/json_util.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

class Normalizer;

struct AddedToken {
  std::string content;
  // What id_to_token / decode give for it: the content, normalized for a normalized token (that is
  // what `tokenizers` returns, e.g. "new" for a "NEW" added with a Lowercase normalizer).
  std::string text;
  TokenId id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A piece of input text: either an added token (id set) or text still to be tokenized.
struct TextPiece {
  std::string_view text;
  std::optional<TokenId> added_id;
  bool starts_text = false;  // begins at offset 0 of the whole input
};

// Finds a set of literal strings in text, leftmost-longest (like aho-corasick's LeftmostLongest).
class LiteralMatcher {
 public:
  void add(std::string_view pattern, size_t value);
  bool empty() const { return nodes_.size() <= 1; }
  // The longest pattern starting exactly at text[pos]: (length, value), or nullopt.
  std::optional<std::pair<size_t, size_t>> longest_at(std::string_view text, size_t pos) const;
  bool can_start_with(unsigned char b) const { return first_bytes_[b]; }

 private:
  struct Node {
    std::unordered_map<unsigned char, uint32_t> children;
    std::optional<size_t> value;
  };
  std::vector<Node> nodes_{Node{}};
  bool first_bytes_[256] = {};
};

class AddedVocabulary {
 public:
  // Reads "added_tokens"; `normalizer` (may be null) normalizes the content of normalized tokens, as
  // they are matched in normalized text.
  void load(tokenizer_json::Array tokens, const tokenizer_json::Where& where, const Normalizer* normalizer);

  // Splits raw text on the non-normalized added tokens.
  void split_raw(std::string_view text, bool starts_text, std::vector<TextPiece>& out) const;
  // Splits already-normalized text on the normalized added tokens.
  void split_normalized(std::string_view text, bool starts_text, std::vector<TextPiece>& out) const;
  bool has_normalized_tokens() const { return !normalized_.empty(); }

  const AddedToken* by_id(TokenId id) const;
  std::optional<TokenId> by_content(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  void split_with(const LiteralMatcher& matcher, std::string_view text, bool starts_text,
                  std::vector<TextPiece>& out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<TokenId, size_t> index_by_id_;
  std::unordered_map<std::string, TokenId> id_by_content_;
  LiteralMatcher raw_;         // tokens with normalized = false, matched on the raw input
  LiteralMatcher normalized_;  // tokens with normalized = true, matched after normalization
};

}  // namespace sabre
