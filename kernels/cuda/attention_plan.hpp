#pragma once
// How the CUDA backend cuts a step's attention into thread blocks (plain C++, unit-tested without a GPU).
//
// A block serves one kv head (or a group of its query heads) for an AttentionItem: a run of a sequence's
// rows against a range of its keys. Its queries are rows x query heads of the group, at most
// queries_per_block, so a prompt chunk is cut into tiles of queries_per_block / group rows that each read
// the keys once for all their queries (a kv head read once per query group and row tile). A one-row
// sequence (a decode) with a long context is split along its keys into partitions whose partial sums a
// merge combines (flash-decoding), so a small batch still fills the GPU. The split depends only on the
// sequence's own context length, never on the rest of the batch, so a sequence's result does not change
// with what shares its step.

#include <cstdint>
#include <vector>

#include "kernels/cuda/device_step.hpp"
#include "kernels/step.hpp"

namespace sabre::cuda {

struct AttentionGeometry {
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
};

// Queries one block holds: 16 for head_dim <= 128, 8 up to 256 (registers and shared memory).
int64_t queries_per_block(int64_t head_dim);
// Query heads of one kv head a block serves (all of them, or queries_per_block when there are more).
int64_t heads_per_block(const AttentionGeometry& g);
// Blocks per kv head: the query heads of one kv head split into groups of heads_per_block.
int64_t head_groups(const AttentionGeometry& g);

// A decode's keys are split into partitions of at least kPartitionKeys, at most kMaxPartitions of them.
inline constexpr int64_t kPartitionKeys = 512;
inline constexpr int64_t kMaxPartitions = 16;
int64_t partitions_for(int64_t context_len);

struct AttentionPlan {
  std::vector<AttentionItem> items;
  std::vector<MergeItem> merges;
  int64_t partials = 0;  // partial slots the items write
};

// The work list of `step` (its real rows) for `g`.
void plan_attention(const StepDescription& step, const AttentionGeometry& g, AttentionPlan& plan);

// The most items and merges a step of `rows` rows can have (what a captured graph's grid is sized for),
// and the most partial slots a step within `limits` can use.
int64_t max_attention_items(int64_t rows);
int64_t max_partials(int64_t max_sequences);

}  // namespace sabre::cuda
