#include "actors/step_plan.hpp"

namespace sabre {

ForwardBatch to_forward_batch(const StepPlan& plan, KvCache* kv) {
  ForwardBatch batch;
  for (const ScheduledChunk& chunk : plan.chunks) {
    // A speculative decode (the input's row for the first proposal through the last proposal's) and a
    // chunk that scores the prompt want logits at every row.
    const bool every_row = chunk.num_proposed > 0 || chunk.scores_prompt();
    batch.add_sequence(chunk.tokens, chunk.num_cached, kv, chunk.block_table, chunk.wants_logits && !every_row);
    if (every_row) {
      const int32_t first = static_cast<int32_t>(batch.rows() - static_cast<int64_t>(chunk.tokens.size()));
      for (int32_t r = 0; r < static_cast<int32_t>(chunk.tokens.size()); ++r) batch.logit_rows.push_back(first + r);
    }
  }
  return batch;
}

std::vector<KvBlockCopy> kv_block_copies(const StepPlan& plan) {
  std::vector<KvBlockCopy> copies;
  copies.reserve(plan.block_copies.size());
  for (const BlockCopy& copy : plan.block_copies) copies.push_back({copy.from, copy.to});
  return copies;
}

}  // namespace sabre
