#pragma once
// What the scheduler simulations share: a fake model whose next token depends only on (sequence,
// position), so a recomputed sequence must continue exactly as before, and a fake device that holds the
// token each KV slot was computed for, so every read through a block table can be checked.

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "actors/scheduler.hpp"
#include "actors/step_plan.hpp"

namespace sabre::sim {

inline int32_t fake_model_token(SequenceId seq, int64_t position) {
  return static_cast<int32_t>((seq * 31 + position * 7) % 500 + 1);
}

// The KV pool as the device would hold it: which token each slot was computed for (-1: never written).
class FakeDevice {
 public:
  FakeDevice(int32_t num_blocks, int32_t block_size)
      : block_size_(block_size), slots_(static_cast<size_t>(num_blocks), std::vector<int32_t>(static_cast<size_t>(block_size), -1)) {}

  void copy(const BlockCopy& c) { slots_.at(static_cast<size_t>(c.to)) = slots_.at(static_cast<size_t>(c.from)); }
  int32_t& at(const std::vector<BlockId>& table, int64_t position) {
    return slots_.at(static_cast<size_t>(table.at(static_cast<size_t>(position / block_size_))))
        .at(static_cast<size_t>(position % block_size_));
  }
  // Whether positions [0, n) read through `table` hold `tokens`' first n.
  bool holds(const std::vector<BlockId>& table, const std::vector<int32_t>& tokens, int64_t n) {
    for (int64_t p = 0; p < n; ++p) {
      if (at(table, p) != tokens[static_cast<size_t>(p)]) return false;
    }
    return true;
  }

 private:
  int32_t block_size_;
  std::vector<std::vector<int32_t>> slots_;
};

// What a simulation expects of a live sequence.
struct Expected {
  std::vector<int32_t> tokens;  // prompt + generated so far, as the fake model produced them
  int64_t prompt_len = 0;
  int64_t max_tokens = 0;
  std::vector<int32_t> stop_token_ids;
};

// Applies a step's results (results[i] sampled from the chunk of owners[i]) and checks that the
// scheduler accepted exactly those whose sequence and chunk owner are still live (an n > 1 parent
// aborted before the fork: its samples start over), in order; the accepted tokens join `live`.
inline StepOutcome apply_and_check_step(Scheduler& sched, const std::vector<StepResult>& results,
                                        const std::vector<SequenceId>& owners, std::map<SequenceId, Expected>& live) {
  std::vector<std::pair<SequenceId, int32_t>> applies;
  for (size_t i = 0; i < results.size(); ++i) {
    if (live.count(results[i].seq) && live.count(owners[i])) applies.emplace_back(results[i].seq, results[i].token);
  }
  StepOutcome outcome = sched.on_step_done(results);
  std::vector<std::pair<SequenceId, int32_t>> accepted;
  for (const StepResult& r : outcome.accepted) accepted.emplace_back(r.seq, r.token);
  CHECK(accepted == applies);
  for (const auto& [id, token] : applies) live.at(id).tokens.push_back(token);
  return outcome;
}

// One random request of the simulations: a prompt that may start with one of two shared prefixes,
// 1..20 generated tokens, optionally stop tokens, and for a quarter of the requests n = 2..4 samples.
struct SimRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 0;
  std::vector<int32_t> stop_token_ids;
  int num_extra_samples = 0;
};

// `with_stop_tokens`: a third of the requests stop at any of 25 of the fake model's 500 token values
// (about one token in twenty). The random draws are made in a fixed order, so a seed gives the same
// requests every time.
inline SimRequest random_sim_request(std::mt19937& rng, bool with_stop_tokens) {
  static const std::vector<std::vector<int32_t>> prefixes = {
      {}, {7, 7, 7, 7, 8, 8, 8, 8}, {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}};
  SimRequest r;
  r.prompt = prefixes[std::uniform_int_distribution<size_t>(0, prefixes.size() - 1)(rng)];
  const int tail = std::uniform_int_distribution<int>(1, 20)(rng);
  for (int i = 0; i < tail; ++i) r.prompt.push_back(std::uniform_int_distribution<int32_t>(1, 50)(rng));
  r.max_tokens = std::uniform_int_distribution<int64_t>(1, 20)(rng);
  if (with_stop_tokens && std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
    for (int i = 0; i < 25; ++i) r.stop_token_ids.push_back(std::uniform_int_distribution<int32_t>(1, 500)(rng));
  }
  if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) r.num_extra_samples = std::uniform_int_distribution<int>(1, 3)(rng);
  return r;
}

}  // namespace sabre::sim
