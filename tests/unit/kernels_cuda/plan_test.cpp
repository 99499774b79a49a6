// The CUDA backend's plain logic, checked without a GPU: how attention is cut into blocks, and the graph
// sizes steps are padded to.

#include <catch2/catch.hpp>

#include "kernels/cuda/attention_plan.hpp"
#include "kernels/cuda/graph_sizes.hpp"
#include "kernels/kv_cache.hpp"

namespace sabre::cuda {
namespace {

// A step of sequences given as (rows, context length).
StepDescription step_of(const std::vector<std::pair<int32_t, int32_t>>& sequences) {
  StepDescription step;
  step.query_start = {0};
  for (const auto& [rows, context] : sequences) {
    step.query_start.push_back(step.query_start.back() + rows);
    step.context_lens.push_back(context);
  }
  step.token_ids.assign(static_cast<size_t>(step.query_start.back()), 0);
  return step;
}

}  // namespace

TEST_CASE("attention plan: prompt chunks in tiles, long decodes split by their own length", "[cuda_plan]") {
  const AttentionGeometry llama{32, 8, 128};  // 4 query heads per kv head: tiles of 16 / 4 = 4 rows
  CHECK(heads_per_block(llama) == 4);
  CHECK(head_groups(llama) == 1);
  AttentionPlan plan;
  // A 10-row chunk over 30 cached tokens, a decode over 1500, a decode over 100.
  plan_attention(step_of({{10, 40}, {1, 1500}, {1, 100}}), llama, plan);
  REQUIRE(plan.items.size() == 3 + 3 + 1);
  // Tiles of the chunk: rows 0-3, 4-7, 8-9; each sees keys up to its last row's position.
  CHECK(plan.items[0].first_row == 0);
  CHECK(plan.items[0].rows == 4);
  CHECK(plan.items[0].key_end == 40 - 10 + 4);
  CHECK(plan.items[2].rows == 2);
  CHECK(plan.items[2].key_end == 40);
  // The long decode: ceil(1500 / 512) = 3 partitions of whole 32-key chunks, merged into row 10.
  CHECK(plan.items[3].partial == 0);
  CHECK(plan.items[3].key_begin == 0);
  CHECK(plan.items[3].key_end == 512);
  CHECK(plan.items[5].key_end == 1500);
  REQUIRE(plan.merges.size() == 1);
  CHECK(plan.merges[0].row == 10);
  CHECK(plan.merges[0].partials == 3);
  CHECK(plan.partials == 3);
  // The short decode: one direct item.
  CHECK(plan.items[6].partial == -1);
  CHECK(plan.items[6].key_end == 100);
}

TEST_CASE("attention plan: a sequence's split does not depend on the rest of the step", "[cuda_plan]") {
  const AttentionGeometry g{28, 4, 128};
  AttentionPlan alone, shared;
  plan_attention(step_of({{1, 9000}}), g, alone);
  plan_attention(step_of({{300, 300}, {1, 9000}, {1, 20}}), g, shared);
  std::vector<std::pair<int32_t, int32_t>> a, b;
  for (const auto& item : alone.items) a.emplace_back(item.key_begin, item.key_end);
  for (const auto& item : shared.items) {
    if (item.sequence == 1) b.emplace_back(item.key_begin, item.key_end);
  }
  CHECK(a == b);
  CHECK(static_cast<int64_t>(a.size()) == kMaxPartitions);  // 9000 keys: capped at 16 partitions
}

TEST_CASE("attention plan: many query heads per kv head are served by several blocks", "[cuda_plan]") {
  const AttentionGeometry g{40, 2, 256};  // 20 per kv head, 8 queries per block at head_dim 256
  CHECK(heads_per_block(g) == 8);
  CHECK(head_groups(g) == 3);
  CHECK_THROWS_WITH(queries_per_block(512), Catch::Contains("head_dim 512"));
  AttentionPlan plan;
  CHECK_THROWS_WITH(plan_attention(step_of({{1, 5}}), AttentionGeometry{30, 4, 64}, plan),
                    Catch::Contains("do not group"));
}

TEST_CASE("graph sizes: 1, 2, 4, then multiples of 8 up to the largest", "[cuda_plan]") {
  const GraphSizes sizes(30);
  CHECK(sizes.sizes() == std::vector<int64_t>{1, 2, 4, 8, 16, 24, 30});
  CHECK(sizes.padded(3) == 4);
  CHECK(sizes.padded(17) == 24);
  CHECK(sizes.padded(30) == 30);
  CHECK(sizes.padded(31) == 31);  // past the largest: not padded, no graph
  CHECK(sizes.contains(24));
  CHECK_FALSE(sizes.contains(23));
  CHECK(GraphSizes(0).empty());
  CHECK(GraphSizes(0).padded(5) == 5);
  CHECK(GraphSizes(1).sizes() == std::vector<int64_t>{1});
}

}  // namespace sabre::cuda
