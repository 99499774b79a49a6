#include "model/weights/gguf_model_config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/weights/gguf_json_text.hpp"

namespace sabre {
namespace {

struct ArchitectureNames {
  std::string_view gguf;
  std::string_view hf_class;
  std::string_view model_type;
};

constexpr std::array<ArchitectureNames, 3> kArchitectures = {{
    {"llama", "LlamaForCausalLM", "llama"},
    {"qwen2", "Qwen2ForCausalLM", "qwen2"},
    {"qwen3", "Qwen3ForCausalLM", "qwen3"},
}};

const ArchitectureNames& architecture_names(const GgufFile& file) {
  const std::string& arch = file.get_string("general.architecture");
  for (const auto& names : kArchitectures) {
    if (names.gguf == arch) return names;
  }
  throw std::runtime_error(fmt::format(
      "GGUF file '{}' holds a '{}' model (general.architecture); Sabre supports llama, qwen2 and qwen3",
      file.path().string(), arch));
}

// llama.cpp per-layer tensor suffixes and their Hugging Face counterparts.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kLayerTensors = {{
    {"attn_norm.weight", "input_layernorm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"ffn_gate.bias", "mlp.gate_proj.bias"},
}};

void key(std::string& out, std::string_view name) {
  if (out.size() > 1) out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
}

}  // namespace

std::string gguf_architecture(const GgufFile& file) { return std::string(architecture_names(file).gguf); }

std::optional<std::string> gguf_to_hf_tensor_name(std::string_view name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  constexpr std::string_view kBlock = "blk.";
  if (name.substr(0, kBlock.size()) != kBlock) return std::nullopt;
  const auto rest = name.substr(kBlock.size());
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  int layer = 0;
  const auto digits = rest.substr(0, dot);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), layer);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  const auto suffix = rest.substr(dot + 1);
  for (const auto& [gguf_suffix, hf_suffix] : kLayerTensors) {
    if (suffix == gguf_suffix) return fmt::format("model.layers.{}.{}", layer, hf_suffix);
  }
  return std::nullopt;
}

std::string gguf_config_json(const GgufFile& file, bool tied_embeddings,
                             const std::optional<GgufLlama3Rope>& llama3_rope) {
  const auto& names = architecture_names(file);
  const std::string prefix = std::string(names.gguf) + ".";
  auto meta = [&](std::string_view k) { return prefix + std::string(k); };

  const uint64_t hidden = file.get_uint(meta("embedding_length"));
  const uint64_t heads = file.get_uint(meta("attention.head_count"));
  const uint64_t kv_heads =
      file.contains(meta("attention.head_count_kv")) ? file.get_uint(meta("attention.head_count_kv")) : heads;
  uint64_t vocab = 0;
  if (file.contains(meta("vocab_size"))) {
    vocab = file.get_uint(meta("vocab_size"));
  } else if (const auto* embd = file.find_tensor("token_embd.weight"); embd != nullptr && embd->dims.size() == 2) {
    vocab = embd->dims[1];
  } else {
    throw std::runtime_error(fmt::format("GGUF file '{}' has neither {} nor a 2-D token_embd.weight",
                                         file.path().string(), meta("vocab_size")));
  }

  std::string out = "{";
  key(out, "architectures");
  out += "[";
  append_json_string(out, names.hf_class);
  out += "]";
  key(out, "model_type");
  append_json_string(out, names.model_type);
  key(out, "vocab_size");
  out += std::to_string(vocab);
  key(out, "hidden_size");
  out += std::to_string(hidden);
  key(out, "intermediate_size");
  out += std::to_string(file.get_uint(meta("feed_forward_length")));
  key(out, "num_hidden_layers");
  out += std::to_string(file.get_uint(meta("block_count")));
  key(out, "num_attention_heads");
  out += std::to_string(heads);
  key(out, "num_key_value_heads");
  out += std::to_string(kv_heads);
  if (file.contains(meta("attention.key_length"))) {
    const uint64_t head_dim = file.get_uint(meta("attention.key_length"));
    key(out, "head_dim");
    out += std::to_string(head_dim);
    if (file.contains(meta("rope.dimension_count")) && file.get_uint(meta("rope.dimension_count")) != head_dim) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': {} ({}) differs from the head size {} (partial rotary embeddings are not "
          "supported)",
          file.path().string(), meta("rope.dimension_count"), file.get_uint(meta("rope.dimension_count")),
          head_dim));
    }
  } else if (file.contains(meta("rope.dimension_count")) && heads != 0 &&
             file.get_uint(meta("rope.dimension_count")) != hidden / heads) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}': {} ({}) differs from the head size {} (partial rotary embeddings are not "
        "supported)",
        file.path().string(), meta("rope.dimension_count"), file.get_uint(meta("rope.dimension_count")),
        hidden / heads));
  }
  key(out, "max_position_embeddings");
  out += std::to_string(file.get_uint(meta("context_length")));
  key(out, "rms_norm_eps");
  append_json_number(out, file.get_float(meta("attention.layer_norm_rms_epsilon")));
  key(out, "rope_theta");
  append_json_number(out, file.contains(meta("rope.freq_base")) ? file.get_float(meta("rope.freq_base"))
                                                                : 10000.0);
  key(out, "tie_word_embeddings");
  out += tied_embeddings ? "true" : "false";
  key(out, "hidden_act");
  out += "\"silu\"";
  key(out, "torch_dtype");
  out += "\"float32\"";  // every tensor is dequantised to fp32 at load
  if (names.gguf == "llama") {
    key(out, "attention_bias");
    out += file.find_tensor("blk.0.attn_q.bias") != nullptr ? "true" : "false";
  }

  // Rope scaling: Llama 3 style recovered from rope_freqs, else the explicit rope.scaling.* keys.
  if (llama3_rope) {
    key(out, "rope_scaling");
    out += "{\"rope_type\":\"llama3\",\"factor\":";
    append_json_number(out, llama3_rope->factor);
    out += ",\"low_freq_factor\":";
    append_json_number(out, llama3_rope->low_freq_factor);
    out += ",\"high_freq_factor\":";
    append_json_number(out, llama3_rope->high_freq_factor);
    out += fmt::format(",\"original_max_position_embeddings\":{}}}",
                       llama3_rope->original_max_position_embeddings);
  } else if (file.contains(meta("rope.scaling.type"))) {
    const std::string& type = file.get_string(meta("rope.scaling.type"));
    if (type != "none") {
      if (type != "linear" && type != "yarn") {
        throw std::runtime_error(fmt::format("GGUF file '{}': {} is '{}'; supported: none, linear, yarn",
                                             file.path().string(), meta("rope.scaling.type"), type));
      }
      key(out, "rope_scaling");
      out += "{\"rope_type\":";
      append_json_string(out, type);
      out += ",\"factor\":";
      append_json_number(out, file.get_float(meta("rope.scaling.factor")));
      if (file.contains(meta("rope.scaling.original_context_length"))) {
        out += fmt::format(",\"original_max_position_embeddings\":{}",
                           file.get_uint(meta("rope.scaling.original_context_length")));
      }
      if (type == "yarn") {
        for (const auto& [gguf_key, hf_key] :
             std::array<std::pair<std::string_view, std::string_view>, 3>{{
                 {"rope.scaling.yarn_beta_fast", "beta_fast"},
                 {"rope.scaling.yarn_beta_slow", "beta_slow"},
                 {"rope.scaling.attn_factor", "attention_factor"},
             }}) {
          if (file.contains(meta(gguf_key))) {
            out += ",";
            append_json_string(out, hf_key);
            out += ":";
            append_json_number(out, file.get_float(meta(gguf_key)));
          }
        }
      }
      out += "}";
    }
  }

  // Special token ids: BOS, and every end-of-generation id llama.cpp knows (EOS, EOT, EOM).
  if (file.contains("tokenizer.ggml.bos_token_id")) {
    key(out, "bos_token_id");
    out += std::to_string(file.get_int("tokenizer.ggml.bos_token_id"));
  }
  std::vector<int64_t> eos;
  for (const auto* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                        "tokenizer.ggml.eom_token_id"}) {
    if (!file.contains(k)) continue;
    const int64_t id = file.get_int(k);
    if (std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
  }
  if (!eos.empty()) {
    key(out, "eos_token_id");
    out += fmt::format("[{}]", fmt::join(eos, ","));
  }
  out += "}";
  return out;
}

}  // namespace sabre
