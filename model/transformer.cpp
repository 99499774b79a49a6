#include "model/transformer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "model/step_builder.hpp"

namespace sabre {
namespace {

StepLimits resolved(StepLimits limits, const ModelConfig& config) {
  // Blocks of one token are the finest any pool uses, so the whole context always fits.
  if (limits.max_blocks_per_sequence == 0) limits.max_blocks_per_sequence = config.max_position_embeddings;
  limits.max_logit_rows = std::max<int64_t>(limits.max_logit_rows, 1);
  return limits;
}

}  // namespace

Transformer::Transformer(const ModelConfig& config, const WeightSource& weights, Backend& backend, StepLimits limits,
                         WeightOptions options, std::unique_ptr<Communicator> communicator)
    : config_(config),
      backend_(backend),
      communicator_(std::move(communicator)),
      shard_(plan_shard(config, communicator_ ? communicator_->rank() : 0,
                        communicator_ ? communicator_->world_size() : 1)),
      weights_(load_model_weights(config, weights, backend, options, shard_)),
      limits_(resolved(limits, config)),
      rope_(rope_frequencies(config, 0)) {
  q_dim_ = shard_.q_heads * config_.head_dim;
  kv_dim_ = shard_.kv_heads * config_.head_dim;
  qkv_dim_ = q_dim_ + 2 * kv_dim_;
  inter_ = shard_.inter;
  q_layout_ = {shard_.q_heads, config_.head_dim, 0, qkv_dim_};
  k_layout_ = {shard_.kv_heads, config_.head_dim, q_dim_, qkv_dim_};
  v_layout_ = {shard_.kv_heads, config_.head_dim, q_dim_ + kv_dim_, qkv_dim_};
  attention_scale_ = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));

  backend_.prepare(limits_);
  // The workspace, once: every step of up to max_tokens rows uses these same buffers.
  const int64_t rows = limits_.max_tokens;
  const ElementType act = backend_.activation_type();
  hidden_ = backend_.allocate(act, rows * config_.hidden_size);
  normed_ = backend_.allocate(act, rows * config_.hidden_size);
  qkv_ = backend_.allocate(act, rows * qkv_dim_);
  attention_out_ = backend_.allocate(act, rows * q_dim_);
  projected_ = backend_.allocate(act, rows * config_.hidden_size);
  gate_up_ = backend_.allocate(act, rows * 2 * inter_);
  activated_ = backend_.allocate(act, rows * inter_);
  cos_sin_ = backend_.allocate(rows * config_.head_dim);
  inv_freq_ = backend_.allocate(static_cast<int64_t>(rope_.inv_freq.size()));
  backend_.write(*inv_freq_, std::as_bytes(std::span(rope_.inv_freq)));
  selected_ = backend_.allocate(act, limits_.max_logit_rows * config_.hidden_size);
  logits_ = backend_.allocate(limits_.max_logit_rows * config_.vocab_size);
  if (shard_.sharded()) {
    shard_logits_ = backend_.allocate(limits_.max_logit_rows * shard_.vocab);
    gathered_logits_ = backend_.allocate(shard_.size * limits_.max_logit_rows * shard_.vocab);
  }
}

KvCacheShape Transformer::kv_cache_shape(int64_t num_blocks, int64_t block_size,
                                         std::optional<ElementType> dtype) const {
  KvCacheShape shape{config_.num_hidden_layers, shard_.kv_heads, config_.head_dim, block_size, num_blocks,
                     dtype.value_or(backend_.activation_type())};
  shape.q_heads = shard_.q_heads;
  return shape;
}

std::unique_ptr<KvCache> Transformer::create_kv_cache(int64_t num_blocks, int64_t block_size,
                                                      std::optional<ElementType> dtype) {
  return backend_.create_kv_cache(kv_cache_shape(num_blocks, block_size, dtype));
}

size_t Transformer::kv_block_bytes(int64_t block_size, std::optional<ElementType> dtype) const {
  return backend_.kv_block_bytes(kv_cache_shape(1, block_size, dtype));
}

SequenceKv Transformer::create_sequence_kv(int64_t tokens, int64_t block_size, std::optional<ElementType> dtype) {
  if (tokens <= 0 || block_size <= 0) {
    throw std::invalid_argument(
        fmt::format("create_sequence_kv: {} tokens in blocks of {} is not a sequence", tokens, block_size));
  }
  const int64_t blocks = (tokens + block_size - 1) / block_size;
  return {create_kv_cache(blocks, block_size, dtype), identity_block_table(blocks)};
}

void Transformer::validate(const ForwardBatch& batch) const {
  const int64_t rows = batch.rows();
  if (rows == 0) throw std::invalid_argument("forward: the batch has no tokens");
  if (static_cast<int64_t>(batch.positions.size()) != rows) {
    throw std::invalid_argument(fmt::format("forward: {} positions for {} tokens", batch.positions.size(), rows));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t id = batch.token_ids[static_cast<size_t>(r)];
    if (id < 0 || id >= config_.vocab_size) {
      throw std::invalid_argument(fmt::format("forward: token id {} at row {} is outside the vocabulary (size {})",
                                              id, r, config_.vocab_size));
    }
  }
  int64_t next_row = 0;
  for (const auto& s : batch.sequences) {
    if (s.first_row != next_row || s.num_rows <= 0 || s.kv == nullptr) {
      throw std::invalid_argument("forward: sequence slices must cover the rows in order, each with a KV cache");
    }
    for (int64_t i = 0; i < s.num_rows; ++i) {
      if (batch.positions[static_cast<size_t>(s.first_row + i)] != s.cached_tokens + i) {
        throw std::invalid_argument(fmt::format("forward: row {} has position {}, expected {}", s.first_row + i,
                                                batch.positions[static_cast<size_t>(s.first_row + i)],
                                                s.cached_tokens + i));
      }
    }
    next_row += s.num_rows;
  }
  if (next_row != rows) throw std::invalid_argument("forward: sequence slices do not cover every row");
  validate_kv(batch);
  for (int32_t r : batch.logit_rows) {
    if (r < 0 || r >= rows) throw std::invalid_argument(fmt::format("forward: logits row {} out of range", r));
  }
}

void Transformer::validate_kv(const ForwardBatch& batch) const {
  const KvCacheShape want = kv_cache_shape(0);
  // Every KV slot this step writes, as (pool, block * block_size + slot, block size): no two rows may
  // write the same one.
  struct Slot {
    std::uintptr_t pool;
    int64_t slot;
    int64_t block_size;
    auto operator<=>(const Slot&) const = default;
  };
  std::vector<Slot> written;
  written.reserve(static_cast<size_t>(batch.rows()));
  for (size_t index = 0; index < batch.sequences.size(); ++index) {
    const SequenceSlice& s = batch.sequences[index];
    if (s.kv != batch.sequences.front().kv) {
      throw std::invalid_argument(fmt::format("forward: sequence {} uses another KV pool than sequence 0; a step "
                                              "reads and writes one pool", index));
    }
    const KvCacheShape& pool = s.kv->shape();
    if (pool.layers != want.layers || pool.kv_heads != want.kv_heads || pool.head_dim != want.head_dim) {
      throw std::invalid_argument(fmt::format(
          "forward: sequence {}'s KV pool holds {} layers x {} kv heads x {} dims, the model needs {} x {} x {}",
          index, pool.layers, pool.kv_heads, pool.head_dim, want.layers, want.kv_heads, want.head_dim));
    }
    const int64_t positions = s.cached_tokens + s.num_rows;
    const int64_t needed = (positions + pool.block_size - 1) / pool.block_size;
    if (static_cast<int64_t>(s.block_table.size()) < needed) {
      throw std::invalid_argument(fmt::format(
          "forward: sequence {} needs {} KV blocks of {} tokens for {} cached + {} new positions, its block table "
          "has {}",
          index, needed, pool.block_size, s.cached_tokens, s.num_rows, s.block_table.size()));
    }
    for (size_t j = 0; j < s.block_table.size(); ++j) {
      const int32_t block = s.block_table[j];
      if (block < 0 || block >= pool.num_blocks) {
        throw std::invalid_argument(
            fmt::format("forward: sequence {}'s block table entry {} is block {}, outside its KV pool of {} blocks",
                        index, j, block, pool.num_blocks));
      }
    }
    for (int64_t p = s.cached_tokens; p < positions; ++p) {
      const int32_t block = s.block_table[static_cast<size_t>(p / pool.block_size)];
      written.push_back({reinterpret_cast<std::uintptr_t>(s.kv), int64_t{block} * pool.block_size + p % pool.block_size,
                         pool.block_size});
    }
  }
  std::sort(written.begin(), written.end());
  const auto twice = std::adjacent_find(written.begin(), written.end(), [](const Slot& a, const Slot& b) {
    return a.pool == b.pool && a.slot == b.slot;
  });
  if (twice != written.end()) {
    throw std::invalid_argument(fmt::format("forward: two rows of the batch write KV slot {} of block {}",
                                            twice->slot % twice->block_size, twice->slot / twice->block_size));
  }
}

void Transformer::update_rope(const ForwardBatch& batch) {
  // Dynamic scaling's frequencies depend on the longest position of the step.
  if (!rope_depends_on_length(config_)) return;
  const int32_t longest = *std::max_element(batch.positions.begin(), batch.positions.end()) + 1;
  rope_ = rope_frequencies(config_, longest);
  backend_.write(*inv_freq_, std::as_bytes(std::span(rope_.inv_freq)));
}

void Transformer::forward(const ForwardBatch& batch) {
  validate(batch);
  // The workspace is this model's, sized by its own limits (a shared backend may allow more).
  const int64_t padded = backend_.padded_rows(batch.rows());
  if (padded > limits_.max_tokens || static_cast<int64_t>(batch.sequences.size()) > limits_.max_sequences ||
      static_cast<int64_t>(batch.logit_rows.size()) > limits_.max_logit_rows) {
    throw std::invalid_argument(fmt::format(
        "forward: a step of {} rows ({} padded), {} sequences and {} logits rows exceeds the limits of {} rows, {} "
        "sequences and {} logits rows",
        batch.rows(), padded, batch.sequences.size(), batch.logit_rows.size(), limits_.max_tokens,
        limits_.max_sequences, limits_.max_logit_rows));
  }
  build_step(batch, padded, limits_.max_blocks_per_sequence, step_);
  backend_.upload_step(step_);
  last_logit_rows_ = static_cast<int64_t>(batch.logit_rows.size());
  const int64_t computed = backend_.logit_rows_computed(last_logit_rows_, padded);
  if (computed > limits_.max_logit_rows) {
    throw std::logic_error(fmt::format("forward: the backend computes {} logits rows for a step of {}, past this "
                                       "model's {}",
                                       computed, padded, limits_.max_logit_rows));
  }
  update_rope(batch);
  backend_.run_step([&] { compute(step_.rows(), computed); });
}

void Transformer::compute(int64_t rows, int64_t logit_rows) {
  backend_.rope_table(std::span<const float>(inv_freq_->data(), rope_.inv_freq.size()), rope_.attention_scaling,
                      cos_sin_->data());
  // Each rank looks up the ids in its rows of the vocabulary (zeros for the others'); the sum is the row.
  backend_.embedding(weights_.embed_tokens->raw(), weights_.embed_tokens->type(), config_.hidden_size,
                     shard_.vocab_first, shard_.vocab, hidden_->raw());
  all_reduce(*hidden_, rows, config_.hidden_size);

  const float eps = static_cast<float>(config_.rms_norm_eps);
  backend_.rms_norm(hidden_->raw(), rows, config_.hidden_size, weights_.layers.front().input_norm->data(), eps,
                    normed_->raw());
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) layer_step(layer, rows);

  if (logit_rows == 0) return;
  // Only the rows that sample need the final norm and the (vocabulary-wide, expensive) LM head.
  backend_.gather_logit_rows(hidden_->raw(), config_.hidden_size, selected_->raw());
  backend_.rms_norm(selected_->raw(), logit_rows, config_.hidden_size, weights_.final_norm->data(), eps,
                    selected_->raw());
  lm_head(logit_rows);
}

void Transformer::lm_head(int64_t rows) {
  const LinearWeight head = weights_.lm_head_linear(shard_.vocab, config_.hidden_size);
  if (!shard_.sharded()) {
    backend_.logits(selected_->raw(), rows, head, logits_->data());
    return;
  }
  backend_.logits(selected_->raw(), rows, head, shard_logits_->data());
  communicator_->all_gather(shard_logits_->raw(), gathered_logits_->raw(), rows * shard_.vocab, ElementType::f32);
  backend_.gather_vocab_shards(gathered_logits_->data(), shard_.size, rows, shard_.vocab, config_.vocab_size,
                               logits_->data());
}

void Transformer::all_reduce(DeviceBuffer& buffer, int64_t rows, int64_t width) {
  if (shard_.sharded()) communicator_->all_reduce_sum(buffer.raw(), rows * width, backend_.activation_type());
}

void Transformer::forward(const ForwardBatch& batch, std::span<float> logits) {
  if (logits.size() != batch.logit_rows.size() * static_cast<size_t>(config_.vocab_size)) {
    throw std::invalid_argument(fmt::format("forward: logits span holds {} floats, expected {} rows of {}",
                                            logits.size(), batch.logit_rows.size(), config_.vocab_size));
  }
  forward(batch);
  if (!logits.empty()) backend_.download(logits_->data(), logits);
}

void Transformer::sample(std::span<const SampleRow> rows, std::vector<SampledToken>& out) {
  backend_.sample(logits_->data(), last_logit_rows_, config_.vocab_size, rows, out);
}

void Transformer::apply(const MatrixWeight& m, const float* bias, int64_t out_features, int64_t in_features,
                        const void* x, int64_t rows, void* y) {
  const size_t element = element_bytes(backend_.activation_type(), 1);
  for (const auto& [first, piece] : m.pieces(bias, out_features, in_features)) {
    backend_.linear(x, rows, piece, static_cast<std::byte*>(y) + static_cast<size_t>(first) * element);
  }
}

void Transformer::layer_step(int64_t layer_index, int64_t rows) {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(layer_index)];
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const int64_t hidden = config_.hidden_size;
  const int64_t inter = inter_;
  const auto bias = [](const std::unique_ptr<DeviceBuffer>& b) -> const float* { return b ? b->data() : nullptr; };

  // Attention block: x + o_proj(attention(rope(norm(qkv(n))))), n = rms_norm(x) (already in normed_: the
  // previous layer's last residual addition computed it).
  apply(w.qkv, bias(w.qkv_bias), qkv_dim_, hidden, normed_->raw(), rows, qkv_->raw());
  if (config_.qk_norm) {
    backend_.head_rms_norm(qkv_->raw(), rows, q_layout_, w.q_norm->data(), eps);
    backend_.head_rms_norm(qkv_->raw(), rows, k_layout_, w.k_norm->data(), eps);
  }
  backend_.apply_rope(qkv_->raw(), rows, q_layout_, cos_sin_->data());
  backend_.apply_rope(qkv_->raw(), rows, k_layout_, cos_sin_->data());
  backend_.store_kv(layer_index, qkv_->raw(), k_layout_, v_layout_);
  backend_.attention(layer_index, qkv_->raw(), q_layout_, attention_scale_, attention_out_->raw());
  backend_.linear(attention_out_->raw(), rows, w.o_proj.linear(bias(w.o_bias), hidden, q_dim_), projected_->raw());
  all_reduce(*projected_, rows, hidden);
  backend_.add_rms_norm(hidden_->raw(), projected_->raw(), rows, hidden, w.post_norm->data(), eps, normed_->raw());

  // MLP block: x + down(silu(gate(n)) * up(n)), n = rms_norm(x); the addition also norms x for the next
  // layer's attention.
  apply(w.gate_up, nullptr, 2 * inter, hidden, normed_->raw(), rows, gate_up_->raw());
  backend_.silu_mul(gate_up_->raw(), rows, inter, activated_->raw());
  backend_.linear(activated_->raw(), rows, w.down.linear(nullptr, hidden, inter), projected_->raw());
  all_reduce(*projected_, rows, hidden);
  if (layer_index + 1 < config_.num_hidden_layers) {
    const LayerWeights& next = weights_.layers[static_cast<size_t>(layer_index + 1)];
    backend_.add_rms_norm(hidden_->raw(), projected_->raw(), rows, hidden, next.input_norm->data(), eps,
                          normed_->raw());
  } else {
    backend_.add(hidden_->raw(), projected_->raw(), static_cast<size_t>(rows * hidden));
  }
}

}  // namespace sabre
