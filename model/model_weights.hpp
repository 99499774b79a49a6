#pragma once
// The weights of a Llama/Qwen2/Qwen3 model in a backend's memory, arranged for the forward pass: q/k/v
// fused into one projection and gate/up into another, so each layer does three big matrix products
// instead of six (one GEMV each for decode, fewer passes over the activations). The matrices of linear
// layers and the embedding stay in the checkpoint's quantised format when it has one the backends read
// (GGUF Q8_0 / Q4_1); the others are in the model's float type (f32, bf16 or f16), norm weights and
// biases in fp32.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/engine_options.hpp"
#include "config/model_config.hpp"
#include "kernels/backend.hpp"
#include "model/tensor_parallel.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

// A linear layer's matrix in whatever element type it is kept in (the buffer's): fp32 values, or
// quantised blocks the backend multiplies with directly. A stacked matrix (q, k, v rows; gate, up) whose
// parts a checkpoint stores in different block formats (llama.cpp's Q4_K_M keeps v in Q6_K beside q and
// k in Q4_K) is split instead: each part keeps its own format and writes its columns of the output
// (on a backend that multiplies_split_matrices; otherwise the parts are widened into one buffer).
struct MatrixWeight {
  std::unique_ptr<DeviceBuffer> buffer;  // the whole matrix; null when split
  struct Part {
    std::unique_ptr<DeviceBuffer> buffer;
    int64_t rows = 0;  // output rows (columns of the output) this part computes
  };
  std::vector<Part> parts;  // split: the stacked parts in order
  // i32 [in_features]: the input each stored column multiplies, for a repacked act-order GPTQ matrix on a
  // backend that permutes_linear_inputs; null when the columns are in order.
  std::unique_ptr<DeviceBuffer> input_order;

  bool split() const { return !parts.empty(); }
  // The whole matrix as one LinearWeight (not for a split one).
  LinearWeight linear(const float* bias, int64_t out_features, int64_t in_features) const;
  // Every piece with the output column it starts at: one for a whole matrix, one per part when split
  // (bias sliced to match, each writing rows of out_features values).
  std::vector<std::pair<int64_t, LinearWeight>> pieces(const float* bias, int64_t out_features,
                                                       int64_t in_features) const;
  size_t bytes() const;
};

struct LayerWeights {
  std::unique_ptr<DeviceBuffer> input_norm;  // [hidden]
  MatrixWeight qkv;                          // [q_dim + 2 * kv_dim, hidden]: q rows, then k, then v
  std::unique_ptr<DeviceBuffer> qkv_bias;    // [q_dim + 2 * kv_dim] or null
  std::unique_ptr<DeviceBuffer> q_norm;      // [head_dim] (Qwen3) or null
  std::unique_ptr<DeviceBuffer> k_norm;      // [head_dim] (Qwen3) or null
  MatrixWeight o_proj;                       // [hidden, q_dim]
  std::unique_ptr<DeviceBuffer> o_bias;      // [hidden] or null
  std::unique_ptr<DeviceBuffer> post_norm;   // [hidden]
  MatrixWeight gate_up;                      // [2 * intermediate, hidden]: gate rows, then up
  MatrixWeight down;                         // [hidden, intermediate]
};

struct ModelWeights {
  std::unique_ptr<DeviceBuffer> embed_tokens;  // [vocab, hidden], in the matrices' type
  std::vector<LayerWeights> layers;
  std::unique_ptr<DeviceBuffer> final_norm;    // [hidden]
  MatrixWeight lm_head;                        // [vocab, hidden]; empty when tied to embed_tokens

  LinearWeight lm_head_linear(int64_t vocab, int64_t hidden) const;
  // Bytes every buffer takes on the backend, and the element type of the big matrices.
  size_t bytes() const;
  ElementType matrix_type() const {
    if (layers.empty()) return embed_tokens->type();
    const MatrixWeight& qkv = layers.front().qkv;
    return qkv.split() ? qkv.parts.front().buffer->type() : qkv.buffer->type();
  }
  // The types the matrices (and the embedding) are kept in, with how many of each: "q5_0 x120, q6_k x31".
  std::string matrix_types_summary() const;
};

// Reads every tensor the architecture needs by its Hugging Face name, checking shapes (errors name the
// file, the tensor and both shapes). The matrices and the embedding are kept in the type options.dtype
// resolves to (ModelDtype: a tensor already stored in that type is uploaded as it is), quantised ones
// stay quantised unless options.gguf says f32, and norm weights and biases are fp32. With a sharded
// plan only this rank's slices are read (model/tensor_parallel.hpp); a quantised matrix whose slice would
// split its blocks is an error naming the tensor.
ModelWeights load_model_weights(const ModelConfig& config, const WeightSource& source, Backend& backend,
                                const WeightOptions& options, const ShardPlan& shard);

}  // namespace sabre
