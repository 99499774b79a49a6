#include "model/model_weights.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "model/quantized_tensors.hpp"
#include "model/weights/dtype_convert.hpp"

namespace sabre {
namespace {

// Stacks tensors that share their column count (q, k, v -> qkv) into one host array.
template <class T>
std::vector<T> concatenate(std::vector<std::vector<T>> parts) {
  if (parts.size() == 1) return std::move(parts.front());
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<T> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

using TensorParts = std::vector<std::pair<std::string, std::vector<int64_t>>>;

std::optional<ElementType> element_type_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return ElementType::f32;
    case DType::bf16: return ElementType::bf16;
    case DType::f16: return ElementType::f16;
  }
  return std::nullopt;
}

// The type the matrices and the embedding are kept in (ModelDtype's rules).
ElementType float_weight_type(ModelDtype dtype, const ModelConfig& config) {
  switch (dtype) {
    case ModelDtype::bfloat16: return ElementType::bf16;
    case ModelDtype::float16: return ElementType::f16;
    case ModelDtype::float32: return ElementType::f32;
    case ModelDtype::automatic: break;
  }
  if (config.torch_dtype == "bfloat16") return ElementType::bf16;
  if (config.torch_dtype == "float16") return ElementType::f16;
  return ElementType::f32;
}

// One tensor's elements as `type` (bf16 or f16): its own bytes when it is stored in that type (nothing
// converted, nothing widened), otherwise converted through fp32 with rounding to nearest even.
std::vector<std::byte> load_16_bit(const WeightSource& source, const std::string& name,
                                   const std::vector<int64_t>& shape, ElementType type) {
  const TensorView* view = source.find(name);
  if (view != nullptr && view->shape == shape && element_type_of(view->dtype) == type) {
    return {view->bytes.begin(), view->bytes.end()};
  }
  const std::vector<float> values = load_f32(source, name, shape);  // reports a missing tensor or bad shape
  std::vector<std::byte> out(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = type == ElementType::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

// One linear layer's matrix from one or more stacked tensors (rows of q, k, v). Kept quantised when the
// source has every part in the same quantised format with the expected shape; otherwise in `type`
// (load_f32 reports a missing tensor or a wrong shape).
MatrixWeight load_matrix(const WeightSource& source, const QuantizedTensorSource* quantized, Backend& backend,
                         const TensorParts& parts, ElementType type) {
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
      const ElementType packed = found.front()->format;
      int64_t elements = 0;
      for (const auto* t : found) elements += t->shape[0] * t->shape[1];
      if (found.size() == 1) {
        m.buffer = backend.upload(packed, elements, found.front()->blocks);
      } else {
        std::vector<std::byte> stacked;
        for (const auto* t : found) stacked.insert(stacked.end(), t->blocks.begin(), t->blocks.end());
        m.buffer = backend.upload(packed, elements, stacked);
      }
      return m;
    }
  }
  MatrixWeight m;
  if (type == ElementType::f32) {
    std::vector<std::vector<float>> values;
    for (const auto& [name, shape] : parts) values.push_back(load_f32(source, name, shape));
    m.buffer = backend.upload(concatenate(std::move(values)));
    return m;
  }
  std::vector<std::vector<std::byte>> bytes;
  int64_t elements = 0;
  for (const auto& [name, shape] : parts) {
    bytes.push_back(load_16_bit(source, name, shape, type));
    elements += shape[0] * shape[1];
  }
  m.buffer = backend.upload(type, elements, concatenate(std::move(bytes)));
  return m;
}

}  // namespace

LinearWeight MatrixWeight::linear(const float* bias, int64_t out_features, int64_t in_features) const {
  return LinearWeight{buffer->raw(), bias, out_features, in_features, buffer->type()};
}

size_t ModelWeights::bytes() const {
  const auto size = [](const std::unique_ptr<DeviceBuffer>& b) { return b ? b->bytes() : size_t{0}; };
  size_t total = size(embed_tokens) + size(final_norm) + size(lm_head.buffer);
  for (const LayerWeights& l : layers) {
    total += size(l.input_norm) + size(l.qkv.buffer) + size(l.qkv_bias) + size(l.q_norm) + size(l.k_norm) +
             size(l.o_proj.buffer) + size(l.o_bias) + size(l.post_norm) + size(l.gate_up.buffer) + size(l.down.buffer);
  }
  return total;
}

LinearWeight ModelWeights::lm_head_linear(int64_t vocab, int64_t hidden) const {
  if (lm_head.buffer) return lm_head.linear(nullptr, vocab, hidden);
  return LinearWeight{embed_tokens->raw(), nullptr, vocab, hidden, embed_tokens->type()};
}

ModelWeights load_model_weights(const ModelConfig& c, const WeightSource& source, Backend& backend, ModelDtype dtype) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  const int64_t inter = c.intermediate_size;
  auto load = [&](const std::string& name, std::vector<int64_t> shape) { return load_f32(source, name, shape); };
  auto upload = [&](std::vector<float>&& host) { return backend.upload(std::move(host)); };
  const auto* quantized = dynamic_cast<const QuantizedTensorSource*>(&source);
  const ElementType type = float_weight_type(dtype, c);
  auto matrix = [&](const TensorParts& parts) { return load_matrix(source, quantized, backend, parts, type); };
  // Qwen2 biases q/k/v but not o; Llama's and Qwen3's attention_bias covers all four projections.
  const bool o_bias = c.attention_bias && c.architecture != Architecture::qwen2;

  ModelWeights w;
  // The embedding as the matrices are kept (quantised when the checkpoint has it so, else the model's float
  // type): the lookup converts the rows it reads, and a tied LM head multiplies with it as it is.
  w.embed_tokens = matrix({{"model.embed_tokens.weight", {c.vocab_size, hidden}}}).buffer;
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
      layer.qkv_bias = upload(concatenate<float>({load(p("self_attn.q_proj.bias"), {q_dim}),
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
  if (!c.tie_word_embeddings) w.lm_head = matrix({{"lm_head.weight", {c.vocab_size, hidden}}});

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} layers of {} from {} in {:.2f} s: {:.1f} MiB of weights, matrices in {}", c.num_hidden_layers,
               architecture_name(c.architecture), source.description(), seconds,
               static_cast<double>(w.bytes()) / (1 << 20), element_type_name(w.matrix_type()));
  return w;
}

}  // namespace sabre
