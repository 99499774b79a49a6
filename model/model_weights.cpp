#include "model/model_weights.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "model/quantized_tensors.hpp"

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

// One linear layer's matrix from one or more stacked tensors (rows of q, k, v). Kept quantised when the
// source has every part in the same quantised format with the expected shape; otherwise fp32 (where
// load_f32 reports a missing tensor or a wrong shape).
MatrixWeight load_matrix(const WeightSource& source, const QuantizedTensorSource* quantized, Backend& backend,
                         const std::vector<std::pair<std::string, std::vector<int64_t>>>& parts) {
  if (quantized != nullptr) {
    std::vector<const QuantizedTensor*> found;
    for (const auto& [name, shape] : parts) {
      const QuantizedTensor* t = quantized->find_quantized(name);
      if (t == nullptr || t->shape != shape || (!found.empty() && t->format != found.front()->format)) {
        found.clear();
        break;
      }
      found.push_back(t);
    }
    if (!found.empty()) {
      MatrixWeight m;
      const ElementType type = found.front()->format;
      int64_t elements = 0;
      for (const auto* t : found) elements += t->shape[0] * t->shape[1];
      if (found.size() == 1) {
        m.buffer = backend.upload(type, elements, found.front()->blocks);
      } else {
        std::vector<std::byte> stacked;
        for (const auto* t : found) stacked.insert(stacked.end(), t->blocks.begin(), t->blocks.end());
        m.buffer = backend.upload(type, elements, stacked);
      }
      return m;
    }
  }
  std::vector<std::vector<float>> values;
  for (const auto& [name, shape] : parts) values.push_back(load_f32(source, name, shape));
  MatrixWeight m;
  m.buffer = backend.upload(concatenate(std::move(values)));
  return m;
}

}  // namespace

LinearWeight MatrixWeight::linear(const float* bias, int64_t out_features, int64_t in_features) const {
  return LinearWeight{buffer->raw(), bias, out_features, in_features, buffer->type()};
}

LinearWeight ModelWeights::lm_head_linear(int64_t vocab, int64_t hidden) const {
  if (lm_head.buffer) return lm_head.linear(nullptr, vocab, hidden);
  return LinearWeight{embed_tokens->raw(), nullptr, vocab, hidden, embed_tokens->type()};
}

ModelWeights load_model_weights(const ModelConfig& c, const WeightSource& source, Backend& backend) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  const int64_t inter = c.intermediate_size;
  auto load = [&](const std::string& name, std::vector<int64_t> shape) { return load_f32(source, name, shape); };
  auto upload = [&](std::vector<float>&& host) { return backend.upload(std::move(host)); };
  const auto* quantized = dynamic_cast<const QuantizedTensorSource*>(&source);
  auto matrix = [&](std::vector<std::pair<std::string, std::vector<int64_t>>> parts) {
    return load_matrix(source, quantized, backend, parts);
  };
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
    layer.qkv = matrix({{p("self_attn.q_proj.weight"), {q_dim, hidden}},
                        {p("self_attn.k_proj.weight"), {kv_dim, hidden}},
                        {p("self_attn.v_proj.weight"), {kv_dim, hidden}}});
    if (c.attention_bias) {
      layer.qkv_bias = upload(concatenate({load(p("self_attn.q_proj.bias"), {q_dim}),
                                           load(p("self_attn.k_proj.bias"), {kv_dim}),
                                           load(p("self_attn.v_proj.bias"), {kv_dim})}));
    }
    if (c.qk_norm) {
      layer.q_norm = upload(load(p("self_attn.q_norm.weight"), {c.head_dim}));
      layer.k_norm = upload(load(p("self_attn.k_norm.weight"), {c.head_dim}));
    }
    layer.o_proj = matrix({{p("self_attn.o_proj.weight"), {hidden, q_dim}}});
    if (o_bias) layer.o_bias = upload(load(p("self_attn.o_proj.bias"), {hidden}));
    layer.post_norm = upload(load(p("post_attention_layernorm.weight"), {hidden}));
    layer.gate_up = matrix({{p("mlp.gate_proj.weight"), {inter, hidden}}, {p("mlp.up_proj.weight"), {inter, hidden}}});
    layer.down = matrix({{p("mlp.down_proj.weight"), {hidden, inter}}});
  }
  w.final_norm = upload(load("model.norm.weight", {hidden}));
  if (!c.tie_word_embeddings) {
    w.lm_head = matrix({{"lm_head.weight", {c.vocab_size, hidden}}});
  } else if (quantized != nullptr && quantized->find_quantized("model.embed_tokens.weight") != nullptr) {
    // The tied head reads the embedding's blocks (a quarter of the fp32 table's bytes per token).
    w.lm_head = matrix({{"model.embed_tokens.weight", {c.vocab_size, hidden}}});
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} layers of {} from {} in {:.2f} s", c.num_hidden_layers, architecture_name(c.architecture),
               source.description(), seconds);
  return w;
}

}  // namespace sabre
