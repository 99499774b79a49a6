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

std::vector<DraftRunner::Segment> DraftRunner::first_pass_segments(const StepPlan& plan) {
  std::vector<Segment> segments;
  for (size_t index = 0; index < plan.chunks.size(); ++index) {
    const ScheduledChunk& chunk = plan.chunks[index];
    if (!chunk.is_decode) {
      // A prefill (or a recomputation after preemption) writes its KV from num_cached on. A lag that
      // starts before it is a preempted sequence's: its tokens lie in cached blocks whose draft KV was
      // never written (a block completed by the last accepted proposal is cached before the draft
      // writes that slot), so they go first, in the same segment (the lag ends at or after num_cached).
      Segment segment{index, chunk.tokens, chunk.num_cached, false};
      if (const auto lag = lag_.find(chunk.seq); lag != lag_.end()) {
        const int64_t from = lag->second.position;
        if (from < chunk.num_cached && from + static_cast<int64_t>(lag->second.tokens.size()) >= chunk.num_cached) {
          std::vector<int32_t> tokens(lag->second.tokens.begin(),
                                      lag->second.tokens.begin() + (chunk.num_cached - from));
          tokens.insert(tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
          segment.tokens = std::move(tokens);
          segment.first = from;
        }
        lag_.erase(lag);
      }
      segments.push_back(std::move(segment));
      continue;
    }
    // The lag counts when it ends where this decode starts; otherwise it was overtaken (a rejection
    // dropped its positions, a preemption recomputed them) and the draft is current up to here.
    Lag& lag = lag_[chunk.seq];
    if (lag.position + static_cast<int64_t>(lag.tokens.size()) != chunk.num_cached) lag = {chunk.num_cached, {}};
    lag.tokens.push_back(chunk.tokens.front());
    const bool drafts = proposals_drafted_by_rank(chunk);
    // A block that fills up may be published in the prefix cache and read later (after a preemption) as
    // this sequence's or another's: catch up before it does, so a full block's draft KV is always valid.
    const bool fills_block = (chunk.num_cached + 1) % kv_->block_size() == 0;
    if (!drafts && !fills_block) continue;
    segments.push_back({index, std::move(lag.tokens), lag.position, drafts});
    lag_.erase(chunk.seq);
  }
  return segments;
}

void DraftRunner::run_pass(const std::vector<ScheduledChunk*>& drafting, int32_t index) {
  const auto vocab = static_cast<size_t>(draft_.config().vocab_size);
  logits_.resize(drafting.size() * vocab);
  draft_.forward(batch_, logits_);
  ++passes_;
  for (size_t i = 0; i < drafting.size(); ++i) {
    const auto row = logits_.begin() + static_cast<std::ptrdiff_t>(i * vocab);
    drafting[i]->tokens[static_cast<size_t>(index)] =
        static_cast<int32_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(vocab)) - row);
  }
}

void DraftRunner::run_segments(const std::vector<Segment>& segments, const StepPlan& plan, StepPlan* proposals) {
  const int64_t max_rows = draft_.limits().max_tokens;
  const int64_t max_sequences = draft_.limits().max_sequences;
  const int64_t max_logits = draft_.limits().max_logit_rows;
  batch_.clear();
  std::vector<ScheduledChunk*> drafting;
  const auto flush = [&] {
    if (batch_.rows() > 0) run_pass(drafting, 1);
    batch_.clear();
    drafting.clear();
  };
  for (const Segment& segment : segments) {
    const ScheduledChunk& chunk = plan.chunks[segment.index];
    int64_t done = 0;
    const auto length = static_cast<int64_t>(segment.tokens.size());
    while (done < length) {
      const int64_t piece = std::min(length - done, max_rows);
      const bool last = done + piece == length;
      const bool logits = last && segment.drafts;
      if (batch_.rows() + piece > max_rows || static_cast<int64_t>(batch_.sequences.size()) + 1 > max_sequences ||
          (logits && static_cast<int64_t>(drafting.size()) + 1 > max_logits)) {
        flush();
      }
      const std::span<const int32_t> tokens(segment.tokens.data() + done, static_cast<size_t>(piece));
      batch_.add_sequence(tokens, segment.first + done, kv_.get(), chunk.block_table, logits);
      if (logits) drafting.push_back(&proposals->chunks[segment.index]);
      done += piece;
      // A sequence's later piece waits for a later pass.
      if (!last) flush();
    }
  }
  flush();
}

void DraftRunner::follow(const StepPlan& plan) {
  if (std::any_of(plan.chunks.begin(), plan.chunks.end(), proposals_drafted_by_rank)) {
    throw std::logic_error("draft runner: follow() on a step with proposals to draft (propose() drafts them)");
  }
  const std::vector<Segment> segments = first_pass_segments(plan);
  if (!segments.empty()) run_segments(segments, plan, nullptr);
}

void DraftRunner::propose(StepPlan& plan) {
  const std::vector<Segment> segments = first_pass_segments(plan);
  if (segments.empty()) return;
  std::vector<ScheduledChunk*> drafting;
  for (const Segment& segment : segments) {
    if (segment.drafts) drafting.push_back(&plan.chunks[segment.index]);
  }
  run_segments(segments, plan, &plan);
  // Proposal i of each chunk that wants that many: one row per chunk, its proposal i - 1 as input.
  for (int32_t i = 2; !drafting.empty(); ++i) {
    std::erase_if(drafting, [i](const ScheduledChunk* c) { return c->num_proposed < i; });
    if (drafting.empty()) break;
    batch_.clear();
    for (ScheduledChunk* chunk : drafting) {
      const std::span<const int32_t> input(&chunk->tokens[static_cast<size_t>(i - 1)], 1);
      batch_.add_sequence(input, chunk->num_cached + i - 1, kv_.get(), chunk->block_table, true);
    }
    run_pass(drafting, i);
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
