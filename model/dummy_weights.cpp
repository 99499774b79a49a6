#include "model/dummy_weights.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "kernels/float16.hpp"

namespace sabre {
namespace {

DType dummy_dtype(const ModelConfig& c) {
  if (c.torch_dtype == "bfloat16") return DType::bf16;
  if (c.torch_dtype == "float16") return DType::f16;
  return DType::f32;
}

// `count` values of `dtype` uniform in center +- spread, from a fixed xorshift stream.
std::vector<std::byte> random_bytes(DType dtype, int64_t count, float center, float spread) {
  std::vector<std::byte> bytes(static_cast<size_t>(count) * dtype_size(dtype));
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i < count; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const float unit = static_cast<float>(state >> 40) * 0x1.0p-24f;  // [0, 1)
    const float v = center + spread * (2.0f * unit - 1.0f);
    if (dtype == DType::f32) {
      std::memcpy(bytes.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

class DummyWeightSource final : public WeightSource {
 public:
  explicit DummyWeightSource(const ModelConfig& c) : dtype_(dummy_dtype(c)) {
    const int64_t hidden = c.hidden_size, q_dim = c.num_attention_heads * c.head_dim,
                  kv_dim = c.num_key_value_heads * c.head_dim, inter = c.intermediate_size;
    add("model.embed_tokens.weight", {c.vocab_size, hidden});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const auto p = [i](std::string_view suffix) { return fmt::format("model.layers.{}.{}", i, suffix); };
      add(p("input_layernorm.weight"), {hidden});
      add(p("self_attn.q_proj.weight"), {q_dim, hidden});
      add(p("self_attn.k_proj.weight"), {kv_dim, hidden});
      add(p("self_attn.v_proj.weight"), {kv_dim, hidden});
      add(p("self_attn.o_proj.weight"), {hidden, q_dim});
      if (c.attention_bias) {
        add(p("self_attn.q_proj.bias"), {q_dim});
        add(p("self_attn.k_proj.bias"), {kv_dim});
        add(p("self_attn.v_proj.bias"), {kv_dim});
        add(p("self_attn.o_proj.bias"), {hidden});
      }
      if (c.qk_norm) {
        add(p("self_attn.q_norm.weight"), {c.head_dim});
        add(p("self_attn.k_norm.weight"), {c.head_dim});
      }
      add(p("post_attention_layernorm.weight"), {hidden});
      add(p("mlp.gate_proj.weight"), {inter, hidden});
      add(p("mlp.up_proj.weight"), {inter, hidden});
      add(p("mlp.down_proj.weight"), {hidden, inter});
    }
    add("model.norm.weight", {hidden});
    if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, hidden});

    int64_t largest_matrix = 1, largest_vector = 1;
    for (const auto& [name, view] : tensors_) {
      int64_t& largest = view.shape.size() == 1 ? largest_vector : largest_matrix;
      largest = std::max(largest, elements(view.shape));
    }
    matrices_ = random_bytes(dtype_, largest_matrix, 0.0f, 0.02f);
    vectors_ = random_bytes(dtype_, largest_vector, 1.0f, 0.02f);
    for (auto& [name, view] : tensors_) {
      const auto& pool = view.shape.size() == 1 ? vectors_ : matrices_;
      view.bytes = std::span<const std::byte>(pool.data(), static_cast<size_t>(elements(view.shape)) * dtype_size(dtype_));
    }
  }

  const TensorView* find(std::string_view name) const override {
    const auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, view] : tensors_) out.push_back(name);
    return out;
  }
  std::string description() const override {
    return fmt::format("random {} weights (--load-format dummy)", dtype_name(dtype_));
  }

 private:
  static int64_t elements(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  void add(std::string name, std::vector<int64_t> shape) {
    TensorView view;
    view.name = name;
    view.dtype = dtype_;
    view.shape = std::move(shape);
    view.origin = "--load-format dummy";
    tensors_.emplace(std::move(name), std::move(view));
  }

  DType dtype_;
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::vector<std::byte> matrices_, vectors_;
};

}  // namespace

std::unique_ptr<WeightSource> make_dummy_weights(const ModelConfig& config) {
  return std::make_unique<DummyWeightSource>(config);
}

}  // namespace sabre
