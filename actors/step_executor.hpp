#pragma once
// What a rank does with one step, CAF-free: register the samplers of sequences new to it with the
// backend (and release those that ended), apply the plan's copy-on-write block copies, run the forward
// pass over the plan's chunks through the paged KV pool, and have the backend sample one token for every
// sequence that wants one (each with its own sampler: seed, stream, penalties, history), remembering the
// token for a decode planned before it was known (ScheduledChunk::input_is_pending). The rank actor
// wraps one of these on its own thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/draft_runner.hpp"
#include "actors/internal_messages.hpp"
#include "kernels/backend.hpp"
#include "model/structured/guided_compiler.hpp"
#include "model/transformer.hpp"

namespace sabre {

class StepExecutor {
 public:
  // Creates the KV pool (num_blocks blocks of block_size tokens of kv_dtype, by default the backend's
  // activation type) on the model's backend. `model` must outlive the executor.
  // `draft`: the draft model of speculative decoding, on the rank that drafts (rank 0 of a group; its
  // proposals reach the other ranks by broadcast). It gets a pool of its own of the same blocks.
  // `guided`: compiles the guided-decoding constraints of new samplers (null: such samplers are refused).
  StepExecutor(Transformer& model, int64_t num_blocks, int64_t block_size,
               std::optional<ElementType> kv_dtype = std::nullopt, Transformer* draft = nullptr,
               std::shared_ptr<structured::GuidedCompiler> guided = nullptr);

  // Runs one step. Throws std::logic_error for a decode whose input token was never sampled, and
  // whatever Transformer::forward and Backend::sample throw (an inconsistent batch, a sequence without a
  // sampler).
  StepOutput execute(const StepInput& input);

 private:
  Transformer& model_;
  std::shared_ptr<structured::GuidedCompiler> guided_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<DraftRunner> draft_;
  // The plan with every pending decode input replaced by the token sampled last for its sequence.
  StepPlan resolve_pending_inputs(const StepPlan& plan) const;
  // Fills the plan's kDraftToken placeholders: the draft model drafts them here, or rank 0's come by
  // broadcast.
  void draft_proposals(StepPlan& plan);
  // Registers new samplers with the backend, each guided one with its constraint compiled here (specs
  // from another process arrive without it).
  void add_samplers(const std::vector<SamplerSpec>& specs);

  // Verifies a speculative decode's proposals (rows first_row .. first_row + num_proposed of the step's
  // logits) and appends its run of tokens to `output`.
  void verify_proposals(const ScheduledChunk& chunk, int32_t first_row, int64_t logit_rows, StepOutput& output);
  // Scores a prompt chunk's tokens (ScheduledChunk::prompt_logprobs) from its logits rows, which start at
  // first_row, and appends them to `output`.
  void score_prompt(const ScheduledChunk& chunk, int32_t first_row, StepOutput& output);

  // The token each sequence sampled last: the input of its next decode when that step was planned
  // before this one finished (async scheduling).
  std::unordered_map<SequenceId, int32_t> last_sampled_;
  // What verifying a sequence's proposals needs of its sampler: the draws' seed and stream, how many
  // tokens it has generated (the draws' index), how many top log-probabilities it reports.
  struct SpeculationState {
    uint64_t seed = 0;
    uint64_t stream = 0;
    uint64_t generated = 0;
    int32_t top_logprobs = 0;
  };
  std::unordered_map<SequenceId, SpeculationState> speculation_;
  std::unique_ptr<DeviceBuffer> probabilities_;  // distributions of a speculative chunk's rows
  std::unique_ptr<DeviceBuffer> proposals_buffer_;  // rank 0's drafted proposals, broadcast to the group
  std::vector<SampleRow> rows_;          // this step's sampling rows, reused
  std::vector<SampledToken> sampled_;
};

}  // namespace sabre
