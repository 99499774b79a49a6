#pragma once
// The BPE "model" of tokenizer.json: vocabulary, ranked merges, byte fallback and unknown-token
// handling, with a cache of already-encoded words. Encodes one pre-tokenized word at a time.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/json_util.hpp"
#include "model/tokenizer/merge_table.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/word_cache.hpp"

namespace sabre {

// Hashing that lets std::unordered_map<std::string, ...> be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept;
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Reads the "model" object; throws naming the file for any type but BPE, dropout other than null/0,
  // or merges that name tokens missing from the vocabulary.
  static std::unique_ptr<BpeModel> from_json(tokenizer_json::Element e, const tokenizer_json::Where& where);

  // Appends the ids of one pre-tokenized word. Thread-safe.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  // The same for a word still in raw bytes that a ByteLevel step would map to visible characters:
  // the cache is keyed by the raw bytes so that a word seen before costs no mapping at all.
  void encode_raw_byte_level_word(std::string_view raw, std::vector<TokenId>& out) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  const std::string* id_to_token(TokenId id) const;  // nullptr when the id is not in the vocabulary
  size_t vocab_size() const { return vocab_.size(); }

 private:
  using MergeTarget = MergeTable::Target;
  struct Symbol {
    TokenId id;
    int32_t prev;
    int32_t next;
    uint32_t byte_len;  // 0 once merged into its left neighbour
    // The merge of this symbol with the next one, if any (short words keep it to avoid lookups).
    uint32_t pair_rank;
    TokenId pair_new_id;
  };

  BpeModel() = default;
  void split_into_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge_symbols(std::vector<Symbol>& symbols) const;
  const MergeTarget* find_merge(TokenId left, TokenId right) const;
  std::optional<TokenId> symbol_id(std::string_view piece, bool first, bool last) const;
  void encode_piece(std::string_view word, std::vector<TokenId>& out) const;
  void encode_uncached(std::string_view word, std::vector<TokenId>& out) const;

  StringMap<TokenId> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_present_;
  MergeTable merges_;
  // Single code points of the vocabulary, looked up without hashing a string (only used when there
  // is no continuing_subword_prefix / end_of_word_suffix to add).
  std::unordered_map<char32_t, TokenId> single_char_ids_;
  std::array<TokenId, 128> ascii_ids_{};
  std::array<TokenId, 256> byte_fallback_ids_{};  // <0xNN> tokens, -1 where absent
  std::optional<TokenId> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  // SentencePiece-style vocabularies have no pre-tokenizer, so a whole text is one "word". When no
  // token has the word marker "▁" after another character, no merge can cross the spot just before a
  // marker, and the word may be cut there into short, cacheable pieces without changing the result.
  bool split_before_marker_ = false;

  // Words seen before and their ids (200k words: a few MB, most of a large text's distinct words).
  mutable WordCache cache_{200'000};
};

}  // namespace sabre
