#include "actors/draft_runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sabre {

DraftRunner::DraftRunner(Transformer& draft, int64_t num_blocks, int64_t block_size, ElementType kv_dtype)
    : draft_(draft), kv_(draft.create_kv_cache(num_blocks, block_size, kv_dtype)) {}

void DraftRunner::copy_blocks(std::span<const KvBlockCopy> copies) {
  if (!copies.empty()) draft_.backend().copy_kv_blocks(*kv_, copies);
}

std::vector<ScheduledChunk*> DraftRunner::first_pass(StepPlan& plan) {
  batch_.clear();
  std::vector<ScheduledChunk*> drafted;
  for (ScheduledChunk& chunk : plan.chunks) {
    if (!chunk.is_decode) {
      lag_.erase(chunk.seq);  // a prefill (or a recomputation after preemption) rewrites its KV from here
      batch_.add_sequence(chunk.tokens, chunk.num_cached, kv_.get(), chunk.block_table, false);
      continue;
    }
    // The lag goes first when it ends where this decode starts; otherwise it was overtaken (a rejection
    // dropped its positions) and is stale.
    std::vector<int32_t> tokens;
    int64_t first = chunk.num_cached;
    if (const auto lag = lag_.find(chunk.seq); lag != lag_.end()) {
      if (lag->second.position + static_cast<int64_t>(lag->second.tokens.size()) == chunk.num_cached) {
        tokens = lag->second.tokens;
        first = lag->second.position;
      }
      lag_.erase(lag);
    }
    tokens.push_back(chunk.tokens.front());
    const bool drafts = proposals_drafted_by_rank(chunk);
    batch_.add_sequence(tokens, first, kv_.get(), chunk.block_table, drafts);
    if (drafts) drafted.push_back(&chunk);
  }
  return drafted;
}

void DraftRunner::take_proposals(const std::vector<ScheduledChunk*>& chunks, int32_t index) {
  const auto vocab = static_cast<size_t>(draft_.config().vocab_size);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto row = logits_.begin() + static_cast<std::ptrdiff_t>(i * vocab);
    chunks[i]->tokens[static_cast<size_t>(index)] =
        static_cast<int32_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(vocab)) - row);
  }
}

void DraftRunner::propose(StepPlan& plan) {
  std::vector<ScheduledChunk*> drafted = first_pass(plan);
  if (batch_.rows() == 0) return;
  const auto vocab = static_cast<size_t>(draft_.config().vocab_size);
  logits_.resize(drafted.size() * vocab);
  draft_.forward(batch_, logits_);
  ++passes_;
  take_proposals(drafted, 1);

  // Proposal i of each chunk that wants that many: one row per chunk, its proposal i - 1 as input.
  for (int32_t i = 2; !drafted.empty(); ++i) {
    std::erase_if(drafted, [i](const ScheduledChunk* c) { return c->num_proposed < i; });
    if (drafted.empty()) break;
    batch_.clear();
    for (ScheduledChunk* chunk : drafted) {
      const std::span<const int32_t> input(&chunk->tokens[static_cast<size_t>(i - 1)], 1);
      batch_.add_sequence(input, chunk->num_cached + i - 1, kv_.get(), chunk->block_table, true);
    }
    logits_.resize(drafted.size() * vocab);
    draft_.forward(batch_, logits_);
    ++passes_;
    take_proposals(drafted, i);
  }
}

void DraftRunner::verified(const ScheduledChunk& chunk, std::span<const int32_t> run) {
  const auto accepted = static_cast<int64_t>(run.size()) - 1;
  if (accepted < 0 || accepted > chunk.num_proposed) {
    throw std::logic_error(fmt::format("draft runner: sequence {} proposed {} tokens and kept a run of {}", chunk.seq,
                                       chunk.num_proposed, run.size()));
  }
  // The draft wrote positions num_cached .. num_cached + num_proposed - 1 (the input and every proposal
  // but the last); the accepted ones are valid. All accepted: the last proposal's KV is missing.
  if (accepted == chunk.num_proposed) {
    lag_[chunk.seq] = {chunk.num_cached + chunk.num_proposed, {run[static_cast<size_t>(accepted - 1)]}};
  }
}

}  // namespace sabre
