#include "actors/step_plan.hpp"

namespace sabre {

ForwardBatch to_forward_batch(const StepPlan& plan) {
  ForwardBatch batch;
  for (const ScheduledChunk& chunk : plan.chunks) {
    batch.add_sequence(chunk.tokens, chunk.num_cached, nullptr, chunk.wants_logits);
  }
  return batch;
}

}  // namespace sabre
