#pragma once
// Messages between the engine's own actors (facade, request actors, scheduler, ranks). Those between the
// scheduler and the request actors never leave the process, so they are whitelisted for CAF; a step and
// its result also go to ranks in other processes (sabre-worker), so they have inspect() overloads and are
// announced by add_engine_message_types. The typed interfaces that carry them are declared here too.

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/block_manager.hpp"
#include "actors/messages.hpp"
#include "actors/sequence.hpp"
#include "actors/step_plan.hpp"
#include "kernels/sampling.hpp"

namespace sabre {

using EngineClock = std::chrono::steady_clock;

// A request actor asks the scheduler to run its prompt; n > 1 samples become n sequences.
struct SequenceSubmission {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  int64_t n = 1;
  SamplingParams sampling;              // sample i draws from stream i under sampling.seed
  std::vector<int32_t> eos_token_ids;   // empty when the request ignores eos
  EngineClock::time_point arrival;
  int32_t prompt_logprobs = -1;         // GenerationRequest::prompt_logprobs
};

// The scheduler's answer: the sequence ids of the samples (in sample order), or why it refused
// (error_type "invalid_request_error" or "overloaded").
struct SubmitReply {
  std::vector<SequenceId> sequence_ids;
  std::string error_type;
  std::string error_message;
};

// What one step did for one sequence, sent to the request actor that owns it.
struct SequenceUpdate {
  SequenceId seq = 0;
  std::vector<SampledToken> tokens;  // sampled this step (usually one)
  bool finished = false;             // the scheduler finished it (stop token or length)
  FinishReason reason = FinishReason::length;
  // Set on the first update of a sequence: seconds from arrival to its first scheduled chunk, and the
  // prompt tokens the prefix cache served.
  double queue_seconds = -1;
  int64_t cached_prompt_tokens = 0;
  // A speculative decode's counts: tokens proposed, and of them accepted (tokens holds those and the
  // model's own token, cut at a stop).
  int32_t proposed = 0;
  int32_t accepted = 0;
  // Prompt logprobs scored this step: prompt_logprobs[i] is prompt token first_scored + i's (positions
  // count from 0; the first token is never scored, so first_scored >= 1). A prompt computed again after
  // a preemption scores positions the request already has: it keeps the first it got.
  int64_t first_scored = 0;
  std::vector<SampledToken> prompt_logprobs;
};

// One step for the ranks: the plan, samplers for sequences new to the rank (SamplerSpec::key is the
// sequence id), and sequences whose samplers can go (finished or aborted).
struct StepInput {
  StepPlan plan;
  std::vector<SamplerSpec> new_samplers;
  std::vector<SequenceId> released;
};

struct SequenceSample {
  SequenceId seq = 0;
  SampledToken token;
};

// A chunk's scored prompt tokens (ScheduledChunk::prompt_logprobs): tokens[i] is prompt position
// first_scored + i, with its rank in the distribution (SampledToken::rank) and top alternatives.
struct PromptScores {
  SequenceId seq = 0;
  int64_t first_scored = 0;
  std::vector<SampledToken> tokens;
};

struct StepOutput {
  std::vector<SequenceSample> samples;  // one per sampled sequence, in plan order
  double model_seconds = 0;             // forward pass (copies included)
  double sample_seconds = 0;
  // When the rank finished the step: with steps queued at the rank, the next one starts there.
  EngineClock::time_point finished_at;
  // Speculative decodes: tokens proposed and accepted in this step (samples then hold each sequence's
  // run in order: the accepted proposals, then the target's token).
  int64_t num_speculative = 0;  // sequences whose proposals were verified
  int64_t num_proposed = 0;
  int64_t num_accepted = 0;
  std::vector<PromptScores> prompt_scores;  // one per chunk that scored its prompt, in plan order
};

// A request actor: step updates of its sequences, (abort) from its client via the facade, and
// (failed, seq, why) when the engine could not run a sequence.
using request_actor = caf::typed_actor<caf::reacts_to<SequenceUpdate>, caf::reacts_to<abort_atom>,
                                       caf::reacts_to<failed_atom, SequenceId, std::string>>;

using scheduler_actor = caf::typed_actor<
    caf::replies_to<submit_atom, SequenceSubmission, request_actor>::with<SubmitReply>,
    caf::reacts_to<abort_atom, std::vector<SequenceId>>,
    caf::replies_to<info_atom>::with<EngineInfo>,
    // The scheduler's own timer (StepDeadlines): time to check the steps in flight against their deadline.
    caf::reacts_to<deadline_atom>>;

// Begins a rank's error when its step failed in a collective (a CollectiveError): most likely because
// another rank failed first, whose own error the engine then reports.
inline constexpr std::string_view kCollectiveFailure = "collective failed: ";

using rank_actor = caf::typed_actor<caf::replies_to<execute_atom, StepInput>::with<StepOutput>>;

// ---- inspect overloads of what crosses to remote ranks (CAF 0.17 style) ----

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ScheduledChunk& x) {
  return f(caf::meta::type_name("ScheduledChunk"), x.seq, x.tokens, x.num_cached, x.block_table, x.is_decode,
           x.input_is_pending, x.wants_logits, x.num_proposed, x.sample_ids, x.prompt_logprobs, x.next_prompt_token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, BlockCopy& x) {
  return f(caf::meta::type_name("BlockCopy"), x.from, x.to);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepPlan& x) {
  return f(caf::meta::type_name("StepPlan"), x.chunks, x.block_copies, x.preempted, x.first_scheduled,
           x.num_batched_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SamplerSpec& x) {
  return f(caf::meta::type_name("SamplerSpec"), x.key, x.params, x.prompt, x.eos_token_ids, x.stream);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepInput& x) {
  return f(caf::meta::type_name("StepInput"), x.plan, x.new_samplers, x.released);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SequenceSample& x) {
  return f(caf::meta::type_name("SequenceSample"), x.seq, x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, PromptScores& x) {
  return f(caf::meta::type_name("PromptScores"), x.seq, x.first_scored, x.tokens);
}

// finished_at is the rank's own clock: only rank 0's, which runs in the engine's process, is read.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepOutput& x) {
  return f(caf::meta::type_name("StepOutput"), x.samples, x.model_seconds, x.sample_seconds, x.finished_at,
           x.num_speculative, x.num_proposed, x.num_accepted, x.prompt_scores);
}

}  // namespace sabre

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sabre::SequenceSubmission)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sabre::SubmitReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sabre::SequenceUpdate)
