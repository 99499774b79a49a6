#pragma once
// The Llama / Qwen2 / Qwen3 decoder, written once against Backend. One call runs one step over a
// ForwardBatch (any mix of prompt chunks and decode tokens of several sequences): the batch becomes the
// backend's step description (build_step), is uploaded once, and every layer's operations read it from
// the backend. The workspace (activations, the logits rows) is allocated once, at construction, for the
// step limits, so steps allocate nothing and always use the same addresses.
//
// With a communicator the model is one rank's shard of a tensor-parallel group (model/tensor_parallel.hpp):
// its own query and kv heads, MLP columns and vocabulary rows; the hidden rows are all-reduced after the
// embedding, o_proj and down_proj, and the logits all-gathered, so every rank ends a step with the same
// full logits and samples the same tokens.

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "config/model_config.hpp"
#include "kernels/backend.hpp"
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
  // Loads the weights into `backend` (which must outlive the Transformer) as `options` says (what they
  // are kept in), and prepares the backend and the workspace for steps within `limits` (a
  // max_blocks_per_sequence of 0 becomes the model's context).
  Transformer(const ModelConfig& config, const WeightSource& weights, Backend& backend, StepLimits limits = {},
              WeightOptions options = {}, std::unique_ptr<Communicator> communicator = nullptr);

  const ModelConfig& config() const { return config_; }
  Backend& backend() { return backend_; }
  const StepLimits& limits() const { return limits_; }
  const ModelWeights& weights() const { return weights_; }
  const ShardPlan& shard() const { return shard_; }
  // The group's collectives (null for a model on one rank).
  Communicator* communicator() { return communicator_.get(); }

  // The shape of a KV pool of `num_blocks` blocks of `dtype` (by default the backend's activation type)
  // for this model.
  KvCacheShape kv_cache_shape(int64_t num_blocks, int64_t block_size = 16,
                              std::optional<ElementType> dtype = std::nullopt) const;
  // A pool of `num_blocks` KV blocks of `block_size` tokens on the model's backend.
  std::unique_ptr<KvCache> create_kv_cache(int64_t num_blocks, int64_t block_size = 16,
                                           std::optional<ElementType> dtype = std::nullopt);
  // Bytes one block takes on the backend (every layer's keys and values, scales included): pool blocks
  // = budget / this.
  size_t kv_block_bytes(int64_t block_size = 16, std::optional<ElementType> dtype = std::nullopt) const;
  // A pool of ceil(tokens / block_size) blocks and the identity table over them.
  SequenceKv create_sequence_kv(int64_t tokens, int64_t block_size = 16,
                                std::optional<ElementType> dtype = std::nullopt);

  // Runs the batch. The logits of batch.logit_rows stay in the backend's memory (logits()), in order,
  // vocab_size floats per row. Throws std::invalid_argument for an inconsistent batch (token ids outside
  // the vocabulary, positions that do not follow the slices, rows not covered by slices, sequences in
  // different KV pools, a block table too short for the slice's positions or naming blocks outside its
  // pool, a pool of another shape, two rows writing one KV slot) or one beyond the step limits.
  void forward(const ForwardBatch& batch);
  // The same, then the logits rows copied to `logits` (host memory, batch.logit_rows.size() rows of
  // vocab_size floats): for tests and tools that read logits.
  void forward(const ForwardBatch& batch, std::span<float> logits);
  // The last forward's logits rows, in the backend's memory.
  const float* logits() const { return logits_->data(); }
  // Samples rows of the last forward's logits with the backend's registered samplers (Backend::sample):
  // only the ids and log-probabilities come back.
  void sample(std::span<const SampleRow> rows, std::vector<SampledToken>& out);

 private:
  void validate(const ForwardBatch& batch) const;
  void validate_kv(const ForwardBatch& batch) const;
  void update_rope(const ForwardBatch& batch);
  // The step's operations, from the RoPE table to the logits (what a GPU backend records as one graph).
  void compute(int64_t rows, int64_t logit_rows);
  void layer_step(int64_t layer_index, int64_t rows);
  // y[rows, out_features] = x W^T + bias through every piece of `m` (one, or its split parts side by side).
  void apply(const MatrixWeight& m, const float* bias, int64_t out_features, int64_t in_features, const void* x,
             int64_t rows, void* y);
  // The sum over the ranks of a row-parallel layer's partial rows (nothing on one rank).
  void all_reduce(DeviceBuffer& rows_buffer, int64_t rows, int64_t width);
  // The LM head of `rows` rows into logits_: this rank's vocabulary, gathered from every rank when sharded.
  void lm_head(int64_t rows);

  ModelConfig config_;
  Backend& backend_;
  std::unique_ptr<Communicator> communicator_;
  ShardPlan shard_;
  ModelWeights weights_;
  StepLimits limits_;
  RopeFrequencies rope_;
  StepDescription step_;  // reused between steps
  int64_t last_logit_rows_ = 0;

  // Layout of one fused qkv row and the per-step constants derived from the config (this rank's share).
  int64_t q_dim_, kv_dim_, qkv_dim_, inter_;
  HeadLayout q_layout_, k_layout_, v_layout_;
  float attention_scale_;

  // Workspace for limits_.max_tokens rows (and limits_.max_logit_rows logits rows), allocated once.
  std::unique_ptr<DeviceBuffer> hidden_, normed_, qkv_, attention_out_, projected_, gate_up_, activated_,
      cos_sin_, inv_freq_, selected_, logits_;
  // Sharded: this rank's logits columns, and every rank's gathered side by side.
  std::unique_ptr<DeviceBuffer> shard_logits_, gathered_logits_;
};

}  // namespace sabre
