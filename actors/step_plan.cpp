#include "actors/step_plan.hpp"

namespace sabre {

ForwardBatch to_forward_batch(const StepPlan& plan, KvCache* kv) {
  ForwardBatch batch;
  for (const ScheduledChunk& chunk : plan.chunks) {
    batch.add_sequence(chunk.tokens, chunk.num_cached, kv, chunk.block_table, chunk.wants_logits);
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
