#pragma once
// Helpers shared by the scheduler tests: prompts, requests, and a fake rank that answers a plan.

#include <catch2/catch.hpp>

#include <numeric>
#include <stdexcept>
#include <vector>

#include "actors/scheduler.hpp"

namespace sabre::test {

inline std::vector<int32_t> iota_tokens(int32_t n, int32_t first = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

inline SequenceRequest request(SequenceId id, std::vector<int32_t> prompt, int64_t max_tokens = 8,
                               std::vector<SequenceId> extra_sample_ids = {}) {
  return SequenceRequest{.id = id,
                         .prompt = std::move(prompt),
                         .max_tokens = max_tokens,
                         .stop_token_ids = {},
                         .extra_sample_ids = std::move(extra_sample_ids)};
}

// Answers every sample id of every chunk that wants logits with `token`, as a rank would.
inline std::vector<FinishedSequence> complete(Scheduler& sched, const StepPlan& plan, int32_t token = 1000) {
  std::vector<StepResult> results;
  for (const auto& c : plan.chunks) {
    for (SequenceId id : c.sample_ids) results.push_back({id, token});
  }
  return sched.on_step_done(results).finished;
}

// A token that depends only on the sequence and the position it lands at, so every sample has a
// stream of its own and a recomputed sequence continues exactly where it was.
inline int32_t token_at(SequenceId seq, int64_t position) {
  return static_cast<int32_t>((seq * 31 + position * 7) % 500 + 1);
}

// Answers each sample id with token_at(id, its current length).
inline std::vector<FinishedSequence> complete_per_sequence(Scheduler& sched, const StepPlan& plan) {
  std::vector<StepResult> results;
  for (const auto& c : plan.chunks) {
    for (SequenceId id : c.sample_ids) {
      results.push_back({id, token_at(id, static_cast<int64_t>(sched.find(id)->tokens.size()))});
    }
  }
  return sched.on_step_done(results).finished;
}

inline const ScheduledChunk& chunk_of(const StepPlan& plan, SequenceId seq) {
  for (const auto& c : plan.chunks) {
    if (c.seq == seq) return c;
  }
  FAIL("sequence " << seq << " not in the plan");
  throw std::logic_error("unreachable");
}

inline bool planned(const StepPlan& plan, SequenceId seq) {
  for (const auto& c : plan.chunks) {
    if (c.seq == seq) return true;
  }
  return false;
}

}  // namespace sabre::test
