#pragma once
// What a rank does with one step, CAF-free: apply the plan's copy-on-write block copies, run the
// forward pass over the plan's chunks through the paged KV pool, and sample one token for every
// sequence that wants one, each with its own Sampler (its seed, penalties and history), remembering the
// token for a decode planned before it was known (ScheduledChunk::input_is_pending). The rank actor
// wraps one of these on its own thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/internal_messages.hpp"
#include "kernels/backend.hpp"
#include "model/sampler.hpp"
#include "model/transformer.hpp"

namespace sabre {

class StepExecutor {
 public:
  // Creates the KV pool (num_blocks blocks of block_size tokens of kv_dtype, by default the backend's
  // activation type) on the model's backend. `model` must outlive the executor.
  StepExecutor(Transformer& model, int64_t num_blocks, int64_t block_size,
               std::optional<ElementType> kv_dtype = std::nullopt);

  // Runs one step. Throws std::logic_error for a plan that names a sequence without a sampler and
  // whatever Transformer::forward throws for an inconsistent batch.
  StepOutput execute(const StepInput& input);

  int64_t num_samplers() const { return static_cast<int64_t>(samplers_.size()); }

 private:
  Transformer& model_;
  std::unique_ptr<KvCache> kv_;
  // The plan with every pending decode input replaced by the token sampled last for its sequence.
  StepPlan resolve_pending_inputs(const StepPlan& plan) const;

  std::unordered_map<SequenceId, Sampler> samplers_;
  // The token each sequence sampled last: the input of its next decode when that step was planned
  // before this one finished (async scheduling).
  std::unordered_map<SequenceId, int32_t> last_sampled_;
  std::vector<float> logits_;
};

}  // namespace sabre
