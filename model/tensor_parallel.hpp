#pragma once
// How a model is cut across the ranks of a tensor-parallel group (Megatron-style): each rank holds its
// share of the query heads (q and o), of the kv heads (k, v and the KV cache; one head, replicated, when
// there are more ranks than kv heads), of the MLP's columns (gate, up and down), and of the vocabulary
// (the embedding and the LM head, padded so it divides). Row-parallel o and down are followed by an
// all-reduce of the hidden rows; the embedding by an all-reduce; the LM head by an all-gather.

#include <cstdint>

#include "config/model_config.hpp"

namespace sabre {

struct ShardPlan {
  int rank = 0;
  int size = 1;
  int64_t q_heads = 0, q_head_first = 0;
  int64_t kv_heads = 0, kv_head_first = 0;
  int64_t inter = 0, inter_first = 0;
  // Rows vocab_first .. vocab_first + vocab - 1 of the embedding and the LM head; past the model's
  // vocabulary (the last rank's, when it does not divide) they are zero.
  int64_t vocab = 0, vocab_first = 0;

  bool sharded() const { return size > 1; }
};

// Rank `rank` of `size`. Throws std::invalid_argument naming the numbers when the heads or the MLP do not
// divide among the ranks.
ShardPlan plan_shard(const ModelConfig& config, int rank, int size);

}  // namespace sabre
