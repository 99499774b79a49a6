#include "kernels/cuda/attention_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sabre::cuda {

int64_t queries_per_block(int64_t head_dim) {
  if (head_dim <= 0 || head_dim > 256) {
    throw std::invalid_argument(fmt::format("CUDA attention: head_dim {} (1 to 256 are supported)", head_dim));
  }
  return head_dim <= 128 ? 16 : 8;
}

int64_t heads_per_block(const AttentionGeometry& g) {
  const int64_t group = g.q_heads / g.kv_heads;
  return std::min(group, queries_per_block(g.head_dim));
}

int64_t head_groups(const AttentionGeometry& g) {
  const int64_t group = g.q_heads / g.kv_heads;
  const int64_t per_block = heads_per_block(g);
  return (group + per_block - 1) / per_block;
}

int64_t partitions_for(int64_t context_len) {
  const int64_t wanted = (context_len + kPartitionKeys - 1) / kPartitionKeys;
  return std::clamp<int64_t>(wanted, 1, kMaxPartitions);
}

void plan_attention(const StepDescription& step, const AttentionGeometry& g, AttentionPlan& plan) {
  if (g.kv_heads <= 0 || g.q_heads % g.kv_heads != 0) {
    throw std::invalid_argument(
        fmt::format("CUDA attention: {} query heads do not group over {} kv heads", g.q_heads, g.kv_heads));
  }
  plan.items.clear();
  plan.merges.clear();
  plan.partials = 0;
  const int64_t tile_rows = std::max<int64_t>(1, queries_per_block(g.head_dim) / heads_per_block(g));
  for (int64_t s = 0; s < step.sequences(); ++s) {
    const int32_t first = step.query_start[static_cast<size_t>(s)];
    const auto rows = static_cast<int32_t>(step.rows_of(s));
    const int32_t context = step.context_lens[static_cast<size_t>(s)];
    const int64_t partitions = rows == 1 ? partitions_for(context) : 1;
    if (partitions == 1) {
      // Row i of the sequence sees keys 0 .. context - rows + i: a tile needs keys up to its last row's.
      for (int32_t r = 0; r < rows; r += static_cast<int32_t>(tile_rows)) {
        const int32_t n = std::min<int32_t>(static_cast<int32_t>(tile_rows), rows - r);
        plan.items.push_back({static_cast<int32_t>(s), first + r, n, 0, context - rows + r + n, -1});
      }
      continue;
    }
    // Equal partitions in whole 32-key chunks (what a block loads at a time).
    const int64_t per_partition = ((context + partitions - 1) / partitions + 31) / 32 * 32;
    MergeItem merge{first, static_cast<int32_t>(plan.partials), 0, 0};
    for (int64_t begin = 0; begin < context; begin += per_partition) {
      const auto end = static_cast<int32_t>(std::min<int64_t>(context, begin + per_partition));
      plan.items.push_back({static_cast<int32_t>(s), first, 1, static_cast<int32_t>(begin), end,
                            static_cast<int32_t>(plan.partials++)});
      ++merge.partials;
    }
    plan.merges.push_back(merge);
  }
}

int64_t max_attention_items(int64_t rows) { return rows * kMaxPartitions; }

int64_t max_partials(int64_t max_sequences) { return max_sequences * kMaxPartitions; }

}  // namespace sabre::cuda
