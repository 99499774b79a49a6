#pragma once
// Rebuilds the Hugging Face tokenizer files a GGUF file implies from its tokenizer.ggml.* metadata, so
// that the one tokenizer.json implementation (Tokenizer::from_json) and the chat-template engine serve
// GGUF checkpoints too.
//
// - tokenizer.ggml.model "gpt2": byte-level BPE with the file's merges; the pre-tokenizer split follows
//   llama.cpp's table for tokenizer.ggml.pre (llama.cpp is the reference implementation of that key).
// - tokenizer.ggml.model "llama": SentencePiece-style BPE with byte fallback; merges are derived from the
//   token scores the way transformers' GGUF loader does (generate_merges).
// Control tokens become special added tokens, user-defined tokens plain added tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/weights/gguf_file.hpp"

namespace sabre {

// The tokenizer.* metadata of a GGUF file (llama.cpp's key names in the comments).
struct GgufTokenizerMetadata {
  std::string origin;                            // the file, for error messages
  std::optional<std::string> model;              // tokenizer.ggml.model ("gpt2", "llama")
  std::optional<std::string> pre;                // tokenizer.ggml.pre
  std::vector<std::string> tokens;               // tokenizer.ggml.tokens
  std::vector<int64_t> token_types;              // tokenizer.ggml.token_type (may be empty)
  std::optional<std::vector<std::string>> merges;  // tokenizer.ggml.merges ("a b")
  std::optional<std::vector<double>> scores;       // tokenizer.ggml.scores
  std::optional<int64_t> bos_id, eos_id, unk_id, pad_id;  // tokenizer.ggml.*_token_id
  std::optional<bool> add_bos, add_eos, add_space_prefix;  // tokenizer.ggml.add_*
  std::optional<std::string> chat_template;      // tokenizer.chat_template
};

GgufTokenizerMetadata read_gguf_tokenizer_metadata(const GgufFile& file);

// The tokenizer.json text, or "" when there is no tokenizer model. Throws naming the origin and key for
// a tokenizer model or pre-tokenizer type Sabre does not know, or inconsistent metadata.
std::string tokenizer_json_from_gguf(const GgufTokenizerMetadata& meta);

// tokenizer_config.json text: chat_template (when present), bos/eos/unk/pad tokens, add_bos_token,
// add_eos_token.
std::string tokenizer_config_json_from_gguf(const GgufTokenizerMetadata& meta);

inline std::string gguf_tokenizer_json(const GgufFile& file) {
  return tokenizer_json_from_gguf(read_gguf_tokenizer_metadata(file));
}
inline std::string gguf_tokenizer_config_json(const GgufFile& file) {
  return tokenizer_config_json_from_gguf(read_gguf_tokenizer_metadata(file));
}

}  // namespace sabre
