#pragma once
// The Llama / Qwen2 / Qwen3 decoder, written once against Backend. One call runs one step over a
// ForwardBatch (any mix of prompt chunks and decode tokens of several sequences) and returns the logits
// of the rows the batch asks for. Activation buffers are kept between calls and only grow, so steady
// decoding allocates nothing.

#include <memory>
#include <span>
#include <vector>

#include "config/model_config.hpp"
#include "model/backend.hpp"
#include "model/forward_batch.hpp"
#include "model/model_weights.hpp"
#include "model/rope.hpp"

namespace sabre {

// A KV pool sized for one sequence of up to `tokens` positions with its identity block table: what a
// single-sequence caller (generate(), tests) passes to ForwardBatch::add_sequence.
struct SequenceKv {
  std::unique_ptr<KvCache> cache;
  std::vector<int32_t> block_table;
};

class Transformer {
 public:
  // Loads the weights into `backend` (which must outlive the Transformer).
  Transformer(const ModelConfig& config, const WeightSource& weights, Backend& backend);

  const ModelConfig& config() const { return config_; }
  Backend& backend() { return backend_; }

  // The shape of a KV pool of `num_blocks` blocks for this model.
  KvCacheShape kv_cache_shape(int64_t num_blocks, int64_t block_size = 16) const;
  // A pool of `num_blocks` KV blocks of `block_size` tokens on the model's backend.
  std::unique_ptr<KvCache> create_kv_cache(int64_t num_blocks, int64_t block_size = 16);
  // Bytes one block takes on the backend (every layer's keys and values): pool blocks = budget / this.
  size_t kv_block_bytes(int64_t block_size = 16) const;
  // A pool of ceil(tokens / block_size) blocks and the identity table over them.
  SequenceKv create_sequence_kv(int64_t tokens, int64_t block_size = 16);

  // Runs the batch; `logits` receives batch.logit_rows.size() rows of vocab_size floats (host memory).
  // Throws std::invalid_argument for an inconsistent batch (token ids outside the vocabulary, positions
  // that do not follow the slices, rows not covered by slices, a block table too short for the slice's
  // positions or naming blocks outside its pool, a pool of another shape, two rows writing one KV slot).
  void forward(const ForwardBatch& batch, std::span<float> logits);

 private:
  void validate(const ForwardBatch& batch, std::span<float> logits) const;
  void validate_kv(const ForwardBatch& batch) const;
  void reserve(int64_t rows, int64_t logit_rows);
  void layer_step(int64_t layer_index, const ForwardBatch& batch, int64_t rows);

  ModelConfig config_;
  Backend& backend_;
  ModelWeights weights_;
  RopeFrequencies rope_;

  // Layout of one fused qkv row and the per-step constants derived from the config.
  int64_t q_dim_, kv_dim_, qkv_dim_;
  HeadLayout q_layout_, k_layout_, v_layout_;
  float attention_scale_;

  // Workspace, sized for capacity_rows_ tokens (and capacity_logit_rows_ logits rows).
  int64_t capacity_rows_ = 0;
  int64_t capacity_logit_rows_ = 0;
  std::unique_ptr<DeviceBuffer> hidden_, normed_, qkv_, attention_out_, projected_, gate_up_, activated_,
      cos_sin_, selected_, logits_;
};

}  // namespace sabre
