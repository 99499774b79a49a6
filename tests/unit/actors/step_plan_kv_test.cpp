// A StepPlan turned into the model's input: each chunk's block table reaches its SequenceSlice with the
// rank's KV pool, and the plan's copy-on-write copies become the backend's KvBlockCopy list in order.

#include <catch2/catch.hpp>

#include "actors/step_plan.hpp"

using namespace sabre;

namespace {

// to_forward_batch only passes the pool pointer through; a stand-in is enough here.
class FakePool final : public KvCache {
 public:
  const KvCacheShape& shape() const override { return shape_; }

 private:
  KvCacheShape shape_{1, 1, 8, 4, 32};
};

}  // namespace

TEST_CASE("to_forward_batch gives every slice its chunk's block table and the pool", "[actors][step_plan]") {
  StepPlan plan;
  plan.chunks.push_back({.seq = 1, .tokens = {5}, .num_cached = 9, .block_table = {7, 3, 30}, .is_decode = true,
                         .input_is_pending = false, .wants_logits = true, .sample_ids = {1}});
  plan.chunks.push_back({.seq = 2, .tokens = {1, 2, 3, 4, 5, 6}, .num_cached = 4, .block_table = {8, 1, 2},
                         .is_decode = false, .input_is_pending = false, .wants_logits = false, .sample_ids = {}});
  plan.block_copies = {{.from = 3, .to = 12}, {.from = 12, .to = 0}};
  FakePool pool;

  const ForwardBatch batch = to_forward_batch(plan, &pool);
  REQUIRE(batch.sequences.size() == 2);
  CHECK(batch.sequences[0].kv == &pool);
  CHECK(batch.sequences[0].block_table == std::vector<int32_t>{7, 3, 30});
  CHECK(batch.sequences[0].cached_tokens == 9);
  CHECK(batch.sequences[1].kv == &pool);
  CHECK(batch.sequences[1].block_table == std::vector<int32_t>{8, 1, 2});
  CHECK(batch.sequences[1].first_row == 1);
  CHECK(batch.positions == std::vector<int32_t>{9, 4, 5, 6, 7, 8, 9});
  CHECK(batch.logit_rows == std::vector<int32_t>{0});

  const std::vector<KvBlockCopy> copies = kv_block_copies(plan);
  REQUIRE(copies.size() == 2);
  CHECK((copies[0].from == 3 && copies[0].to == 12));
  CHECK((copies[1].from == 12 && copies[1].to == 0));
}
