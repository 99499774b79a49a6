#pragma once
// The weights of a Llama/Qwen2/Qwen3 model in a backend's memory, converted to fp32 and arranged for the
// forward pass: q/k/v fused into one projection and gate/up into another, so each layer does three big
// matrix products instead of six (one GEMV each for decode, fewer passes over the activations).

#include <memory>
#include <vector>

#include "config/model_config.hpp"
#include "model/backend.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

struct LayerWeights {
  std::unique_ptr<DeviceBuffer> input_norm;  // [hidden]
  std::unique_ptr<DeviceBuffer> qkv;         // [q_dim + 2 * kv_dim, hidden]: q rows, then k, then v
  std::unique_ptr<DeviceBuffer> qkv_bias;    // [q_dim + 2 * kv_dim] or null
  std::unique_ptr<DeviceBuffer> q_norm;      // [head_dim] (Qwen3) or null
  std::unique_ptr<DeviceBuffer> k_norm;      // [head_dim] (Qwen3) or null
  std::unique_ptr<DeviceBuffer> o_proj;      // [hidden, q_dim]
  std::unique_ptr<DeviceBuffer> o_bias;      // [hidden] or null
  std::unique_ptr<DeviceBuffer> post_norm;   // [hidden]
  std::unique_ptr<DeviceBuffer> gate_up;     // [2 * intermediate, hidden]: gate rows, then up
  std::unique_ptr<DeviceBuffer> down;        // [hidden, intermediate]
};

struct ModelWeights {
  std::unique_ptr<DeviceBuffer> embed_tokens;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::unique_ptr<DeviceBuffer> final_norm;    // [hidden]
  std::unique_ptr<DeviceBuffer> lm_head;       // [vocab, hidden], null when tied to embed_tokens

  const float* lm_head_data() const { return (lm_head ? lm_head : embed_tokens)->data(); }
};

// Reads every tensor the architecture needs by its Hugging Face name, checking shapes (errors name the
// file, the tensor and both shapes).
ModelWeights load_model_weights(const ModelConfig& config, const WeightSource& source, Backend& backend);

}  // namespace sabre
