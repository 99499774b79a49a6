#pragma once
// A Hugging Face `tokenizer.json` tokenizer (BPE, byte-level or SentencePiece-style), producing exactly
// the ids of the `tokenizers` library. Thread-safe: encode/decode may run on many threads at once (they
// share a bounded cache of encoded words). For streaming output see incremental_decoder.hpp.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Throws std::runtime_error naming the file and the unsupported or malformed part. A directory means
  // its tokenizer.json.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json(std::string_view json_text, std::string_view origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Added/special tokens are matched in the text; add_special_tokens applies the post-processor
  // (e.g. Llama's BOS), as `tokenizers`' encode(text, add_special_tokens=...). Bytes that are not valid
  // UTF-8 are first replaced by U+FFFD (one per maximal invalid sequence).
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const;
  // As `tokenizers`' decode(ids, skip_special_tokens=...). Invalid UTF-8 becomes U+FFFD.
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens) const;

  size_t vocab_size() const;  // including added tokens
  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  bool is_special(TokenId id) const;
  // The bytes `id` adds when it appears in the middle of generated text (possibly part of a UTF-8
  // character); nullopt for a special token or an id outside the vocabulary.
  std::optional<std::string> token_bytes(TokenId id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sabre
