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

#include <string>

#include "model/weights/gguf_file.hpp"

namespace sabre {

// The tokenizer.json text, or "" when the file carries no tokenizer.ggml.model. Throws naming the file
// and key for a tokenizer model or pre-tokenizer type Sabre does not know.
std::string gguf_tokenizer_json(const GgufFile& file);

// tokenizer_config.json text: chat_template (when present), bos/eos/unk/pad tokens, add_bos_token,
// add_eos_token.
std::string gguf_tokenizer_config_json(const GgufFile& file);

}  // namespace sabre
