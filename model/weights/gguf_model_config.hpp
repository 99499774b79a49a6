#pragma once
// The model description of a GGUF file in Hugging Face terms: a config.json text built from the
// <arch>.* metadata (handed to parse_model_config, so one parser validates both checkpoint formats) and
// the mapping from llama.cpp tensor names to Hugging Face ones.

#include <optional>
#include <string>
#include <string_view>

#include "model/weights/gguf_file.hpp"

namespace sabre {

// Llama 3.1-style rope scaling. llama.cpp's converter does not store these numbers: it bakes them into a
// `rope_freqs.weight` tensor of per-frequency factors, from which gguf_checkpoint recovers them.
struct GgufLlama3Rope {
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// config.json text for the file's general.architecture (llama, qwen2, qwen3). `tied_embeddings`: the
// file has no output.weight, so the LM head reuses token_embd. Throws naming the file and key for an
// unsupported architecture or missing metadata.
std::string gguf_config_json(const GgufFile& file, bool tied_embeddings,
                             const std::optional<GgufLlama3Rope>& llama3_rope);

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"; nullopt for a name with no
// Hugging Face counterpart (e.g. rope_freqs.weight).
std::optional<std::string> gguf_to_hf_tensor_name(std::string_view gguf_name);

// The architecture key prefix ("llama", "qwen2", "qwen3"); throws for any other general.architecture.
std::string gguf_architecture(const GgufFile& file);

}  // namespace sabre
