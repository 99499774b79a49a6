#include "model/model_weights.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace sabre {
namespace {

// Stacks tensors that share their column count (q, k, v -> qkv) into one host array.
std::vector<float> concatenate(std::vector<std::vector<float>> parts) {
  if (parts.size() == 1) return std::move(parts.front());
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<float> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

ModelWeights load_model_weights(const ModelConfig& c, const WeightSource& source, Backend& backend) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  const int64_t inter = c.intermediate_size;
  auto load = [&](const std::string& name, std::vector<int64_t> shape) { return load_f32(source, name, shape); };
  auto upload = [&](std::vector<float>&& host) { return backend.upload(std::move(host)); };
  // Qwen2 biases q/k/v but not o; Llama's and Qwen3's attention_bias covers all four projections.
  const bool o_bias = c.attention_bias && c.architecture != Architecture::qwen2;

  ModelWeights w;
  w.embed_tokens = upload(load("model.embed_tokens.weight", {c.vocab_size, hidden}));
  w.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    // fmt rather than string + string: g++ 12 warns falsely (-Wrestrict) on the latter.
    const auto p = [i](std::string_view suffix) { return fmt::format("model.layers.{}.{}", i, suffix); };
    LayerWeights& layer = w.layers[static_cast<size_t>(i)];
    layer.input_norm = upload(load(p("input_layernorm.weight"), {hidden}));
    layer.qkv = upload(concatenate({load(p("self_attn.q_proj.weight"), {q_dim, hidden}),
                                    load(p("self_attn.k_proj.weight"), {kv_dim, hidden}),
                                    load(p("self_attn.v_proj.weight"), {kv_dim, hidden})}));
    if (c.attention_bias) {
      layer.qkv_bias = upload(concatenate({load(p("self_attn.q_proj.bias"), {q_dim}),
                                           load(p("self_attn.k_proj.bias"), {kv_dim}),
                                           load(p("self_attn.v_proj.bias"), {kv_dim})}));
    }
    if (c.qk_norm) {
      layer.q_norm = upload(load(p("self_attn.q_norm.weight"), {c.head_dim}));
      layer.k_norm = upload(load(p("self_attn.k_norm.weight"), {c.head_dim}));
    }
    layer.o_proj = upload(load(p("self_attn.o_proj.weight"), {hidden, q_dim}));
    if (o_bias) layer.o_bias = upload(load(p("self_attn.o_proj.bias"), {hidden}));
    layer.post_norm = upload(load(p("post_attention_layernorm.weight"), {hidden}));
    layer.gate_up = upload(concatenate({load(p("mlp.gate_proj.weight"), {inter, hidden}),
                                        load(p("mlp.up_proj.weight"), {inter, hidden})}));
    layer.down = upload(load(p("mlp.down_proj.weight"), {hidden, inter}));
  }
  w.final_norm = upload(load("model.norm.weight", {hidden}));
  if (!c.tie_word_embeddings) w.lm_head = upload(load("lm_head.weight", {c.vocab_size, hidden}));

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} layers of {} from {} in {:.2f} s", c.num_hidden_layers, architecture_name(c.architecture),
               source.description(), seconds);
  return w;
}

}  // namespace sabre
