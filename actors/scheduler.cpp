#include "actors/scheduler.hpp"

#include "actors/request_check.hpp"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

namespace sabre {

namespace {

bool in_plan(const StepPlan& plan, SequenceId seq) {
  return std::any_of(plan.chunks.begin(), plan.chunks.end(),
                     [seq](const ScheduledChunk& c) { return c.seq == seq; });
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, BlockManager& blocks) : config_(config), blocks_(blocks) {
  if (config_.max_num_batched_tokens < 1 || config_.max_num_seqs < 1 || config_.max_waiting < 0 ||
      config_.max_model_len < 2 || config_.max_steps_in_flight < 1 || config_.max_steps_in_flight > 2 ||
      !(config_.watermark >= 0.0 && config_.watermark < 1.0) || config_.max_prompt_logprob_rows < 1) {
    throw std::invalid_argument(fmt::format(
        "scheduler config: max_num_batched_tokens ({}), max_num_seqs ({}) and max_prompt_logprob_rows ({}) must "
        "be >= 1, max_waiting ({}) >= 0, max_model_len ({}) >= 2, max_steps_in_flight ({}) 1 or 2, watermark ({}) "
        "in [0, 1)",
        config_.max_num_batched_tokens, config_.max_num_seqs, config_.max_prompt_logprob_rows, config_.max_waiting,
        config_.max_model_len, config_.max_steps_in_flight, config_.watermark));
  }
}

void Scheduler::check_new_request(const SequenceRequest& request) const {
  const auto prompt_len = static_cast<int64_t>(request.prompt.size());
  const auto n = 1 + static_cast<int64_t>(request.extra_sample_ids.size());
  if (sequences_.count(request.id) != 0) {
    throw SchedulerRequestInvalid(fmt::format("request {}: id already in use", request.id));
  }
  std::unordered_set<SequenceId> ids{request.id};
  for (SequenceId extra : request.extra_sample_ids) {
    if (sequences_.count(extra) != 0 || !ids.insert(extra).second) {
      throw SchedulerRequestInvalid(
          fmt::format("request {}: sample id {} is already in use or given twice", request.id, extra));
    }
  }
  if (prompt_len == 0) throw SchedulerRequestInvalid(fmt::format("request {}: empty prompt", request.id));
  if (request.max_tokens < 1) {
    throw SchedulerRequestInvalid(
        fmt::format("request {}: max_tokens must be at least 1, got {}", request.id, request.max_tokens));
  }
  if (prompt_len + request.max_tokens > config_.max_model_len) {
    throw SchedulerRequestInvalid(fmt::format(
        "request {}: prompt of {} tokens plus max_tokens {} is {} tokens, more than max_model_len {}", request.id,
        prompt_len, request.max_tokens, prompt_len + request.max_tokens, config_.max_model_len));
  }
  if (n > config_.max_num_seqs) {
    throw SchedulerRequestInvalid(fmt::format("request {}: n = {} samples can never run together under max_num_seqs {}",
                                              request.id, n, config_.max_num_seqs));
  }
  // The last sampled token is never fed back, so its KV is never needed; n samples share the prompt's
  // full blocks (kv_blocks_needed, the rule the engine's edge checks requests with).
  const int64_t bs = blocks_.block_size();
  const int64_t kv_tokens = prompt_len + request.max_tokens - 1;
  const int64_t needed = kv_blocks_needed(prompt_len, request.max_tokens, n, bs);
  if (n == 1 && needed > blocks_.num_total_blocks()) {
    throw SchedulerRequestInvalid(fmt::format(
        "request {}: {} tokens of KV need {} blocks of {} tokens, the whole pool has {}", request.id, kv_tokens,
        needed, bs, blocks_.num_total_blocks()));
  }
  if (n > 1 && needed > blocks_.num_total_blocks()) {
    throw SchedulerRequestInvalid(fmt::format(
        "request {}: n = {} samples of a {}-token prompt with max_tokens {} need {} KV blocks of {} tokens at once "
        "(the prompt's {} full blocks shared), the whole pool has {}",
        request.id, n, prompt_len, request.max_tokens, needed, bs, prompt_len / bs, blocks_.num_total_blocks()));
  }
}

void Scheduler::add(SequenceRequest request) {
  check_new_request(request);
  if (num_waiting() >= config_.max_waiting) {
    throw SchedulerOverloaded(fmt::format("overloaded: {} requests already waiting (max_waiting {}); retry later",
                                          num_waiting(), config_.max_waiting));
  }
  SchedulerSequence s;
  s.id = request.id;
  s.arrival = next_arrival_++;
  s.tokens = std::move(request.prompt);
  s.prompt_len = static_cast<int64_t>(s.tokens.size());
  s.max_tokens = request.max_tokens;
  s.stop_token_ids = std::move(request.stop_token_ids);
  s.prompt_logprobs = request.prompt_logprobs;
  s.pending_samples = request.extra_sample_ids;
  // Each sample keeps its own copy of the prompt: it is what it recomputes after a preemption.
  for (SequenceId extra : request.extra_sample_ids) {
    SchedulerSequence sample = s;
    sample.id = extra;
    sample.arrival = next_arrival_++;  // later than its parent: the first preemption victim of the group
    sample.pending_samples.clear();
    sample.fork_parent = s.id;
    sequences_.emplace(extra, std::move(sample));
  }
  const SequenceId id = s.id;
  sequences_.emplace(id, std::move(s));
  waiting_.push_back(id);  // the newest arrival goes last
}

bool Scheduler::abort(SequenceId seq) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) return false;
  const SchedulerSequence& s = it->second;
  if (s.fork_parent) {
    // An unforked sample holds nothing: it only has to stop being expected by its parent's prefill.
    auto& siblings = sequences_.at(*s.fork_parent).pending_samples;
    siblings.erase(std::remove(siblings.begin(), siblings.end(), seq), siblings.end());
    drop_from_step_in_flight(seq);
    sequences_.erase(it);
    return true;
  }
  if (blocks_.has_sequence(seq)) blocks_.free(seq);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), seq), waiting_.end());
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  drop_from_step_in_flight(seq);
  if (!s.pending_samples.empty()) hand_over_prefill(s);
  sequences_.erase(it);
  return true;
}

void Scheduler::drop_from_step_in_flight(SequenceId seq) {
  // The rank may still compute its rows or sample its token; on_step_done must not apply them to a
  // later sequence that reuses the id.
  for (StepPlan& plan : in_flight_) {
    auto& chunks = plan.chunks;
    chunks.erase(std::remove_if(chunks.begin(), chunks.end(), [seq](const ScheduledChunk& c) { return c.seq == seq; }),
                 chunks.end());
    for (ScheduledChunk& c : chunks) {
      c.sample_ids.erase(std::remove(c.sample_ids.begin(), c.sample_ids.end(), seq), c.sample_ids.end());
    }
  }
}

void Scheduler::hand_over_prefill(const SchedulerSequence& parent) {
  const SequenceId heir_id = parent.pending_samples.front();
  SchedulerSequence& heir = sequences_.at(heir_id);
  heir.fork_parent.reset();
  heir.arrival = parent.arrival;
  heir.ever_scheduled = parent.ever_scheduled;  // the request's queue time is counted once
  heir.num_computed = 0;
  heir.num_scheduled = 0;
  heir.num_pending = 0;
  heir.pending_samples.assign(parent.pending_samples.begin() + 1, parent.pending_samples.end());
  for (SequenceId sibling : heir.pending_samples) sequences_.at(sibling).fork_parent = heir_id;
  insert_waiting(heir_id);
}

void Scheduler::enable_speculation(int32_t k, Proposer propose, int32_t max_rows, int32_t disable_above) {
  if (k < 1 || !propose) throw std::invalid_argument(fmt::format("Scheduler: {} speculative steps without a proposer", k));
  speculative_steps_ = k;
  speculative_max_rows_ = std::max(1, max_rows);
  speculative_disable_above_ = std::max(0, disable_above);
  propose_ = std::move(propose);
}

bool Scheduler::speculating() const {
  return speculative_steps_ > 0 &&
         (speculative_disable_above_ == 0 || static_cast<int64_t>(running_.size()) <= speculative_disable_above_);
}

std::vector<int32_t> Scheduler::proposals_for(const SchedulerSequence& s, const Budget& budget) const {
  // A proposal follows the sequence's last token: none while a step in flight has yet to sample it.
  if (!speculating() || s.num_pending > 0) return {};
  const auto running = std::max<int64_t>(1, static_cast<int64_t>(running_.size()));
  const auto length = static_cast<int64_t>(s.tokens.size());
  const int64_t room = std::min({static_cast<int64_t>(speculative_steps_), s.max_tokens - s.num_generated() - 1,
                                 budget.tokens - 1, config_.max_model_len - length - 1,
                                 speculative_max_rows_ / running - 1});
  if (room <= 0) return {};
  std::vector<int32_t> proposed = propose_(s.tokens, static_cast<int32_t>(room));
  if (static_cast<int64_t>(proposed.size()) > room) proposed.resize(static_cast<size_t>(room));
  // Slots for the input and every proposal, or none: a plain decode then (which may preempt).
  if (!proposed.empty() && !blocks_.can_append(s.id, 1 + static_cast<int64_t>(proposed.size()))) return {};
  return proposed;
}

StepPlan Scheduler::schedule() {
  if (!can_schedule()) {
    throw std::logic_error(fmt::format("Scheduler::schedule: {} step(s) already in flight (max_steps_in_flight {})",
                                       in_flight_.size(), config_.max_steps_in_flight));
  }
  StepPlan plan;
  Budget budget{config_.max_num_batched_tokens, config_.max_prompt_logprob_rows};
  schedule_decodes(plan, budget);
  schedule_running_prefills(plan, budget);
  // Admitting work right after preempting for lack of blocks would only take the blocks back.
  if (plan.preempted.empty()) admit_waiting(plan, budget);
  plan.num_batched_tokens = config_.max_num_batched_tokens - budget.tokens;
  if (!plan.empty()) in_flight_.push_back(plan);
  return plan;
}

void Scheduler::schedule_decodes(StepPlan& plan, Budget& budget) {
  const std::vector<SequenceId> order = running_;  // preemption edits running_
  for (SequenceId id : order) {
    if (budget.tokens == 0) return;
    if (std::find(running_.begin(), running_.end(), id) == running_.end()) continue;  // preempted
    SchedulerSequence& s = sequences_.at(id);
    if (s.num_pending > 0) {
      // Its token comes from the step in flight. Wait when that step forks its samples (they copy its
      // block table, which must not hold this step's slot yet) or certainly finishes it (max_tokens),
      // and when it would speculate: proposals follow the token it is waiting for.
      if (!s.pending_samples.empty()) continue;
      if (s.num_generated() + s.num_pending >= s.max_tokens) continue;
      if (speculating()) continue;
    }
    const int64_t in_blocks = blocks_.num_tokens(id);
    const int64_t known = static_cast<int64_t>(s.tokens.size()) + s.num_pending;
    const bool wants_decode = s.num_scheduled == in_blocks && known > in_blocks;
    if (!wants_decode) continue;
    bool preempted_self = false;
    while (!blocks_.can_append(id)) {
      const std::optional<SequenceId> victim = preempt_latest(plan);
      if (!victim || *victim == id) {
        preempted_self = true;
        break;
      }
    }
    // Preempted itself: everything after it in arrival order is gone too. No victim (all the others are
    // in this plan or in flight): it waits for the next step.
    if (preempted_self) return;
    const bool input_is_pending = s.num_pending > 0;
    const int32_t input = input_is_pending ? kPendingToken : s.tokens.back();
    const std::vector<int32_t> proposed = proposals_for(s, budget);
    const AppendResult slot = blocks_.append_slot(id, input);
    if (slot.copy_from) plan.block_copies.push_back({*slot.copy_from, slot.block});
    for (int32_t token : proposed) blocks_.append_slot(id, token);  // the last block is unshared now
    ScheduledChunk chunk;
    chunk.seq = id;
    chunk.tokens = {input};
    chunk.tokens.insert(chunk.tokens.end(), proposed.begin(), proposed.end());
    chunk.num_proposed = static_cast<int32_t>(proposed.size());
    chunk.num_cached = s.num_scheduled;
    chunk.block_table = blocks_.block_table(id);
    chunk.is_decode = true;
    chunk.input_is_pending = input_is_pending;
    chunk.wants_logits = true;
    chunk.sample_ids = {id};
    plan.chunks.push_back(std::move(chunk));
    ++s.num_scheduled;
    ++s.num_pending;
    budget.tokens -= 1 + static_cast<int64_t>(proposed.size());
  }
}

void Scheduler::schedule_running_prefills(StepPlan& plan, Budget& budget) {
  for (SequenceId id : running_) {
    if (budget.tokens == 0) return;
    SchedulerSequence& s = sequences_.at(id);
    if (s.num_scheduled < static_cast<int64_t>(s.tokens.size()) && !in_plan(plan, id) &&
        s.num_scheduled < blocks_.num_tokens(id) && prefill_length(s, budget) > 0) {
      add_prefill_chunk(plan, budget, s);
    }
  }
}

void Scheduler::admit_waiting(StepPlan& plan, Budget& budget) {
  size_t next = 0;  // the first waiting sequence not passed over
  while (budget.tokens > 0 && next < waiting_.size()) {
    const SequenceId id = waiting_[next];
    SchedulerSequence& s = sequences_.at(id);
    // Strict FCFS: a head that does not fit blocks the ones behind it. Its unforked samples take their
    // max_num_seqs places now, so forking them later never goes over.
    const auto slots_needed = 1 + static_cast<int64_t>(s.pending_samples.size());
    if (num_sequence_slots_taken() + slots_needed > config_.max_num_seqs) return;
    // Except for the step's rows to score prompts: a prompt to score waits for a step with some left,
    // which a long one being scored may hold for many steps, and the prompts behind it that need none
    // go ahead.
    if (prefill_length(s, budget) == 0) {
      ++next;
      continue;
    }
    // A prompt to score is computed from its first token: cached blocks would skip those rows.
    const bool reuse_cached = !s.scores_prompt();
    if (!blocks_.can_allocate(s.tokens, reuse_cached)) return;
    if (!running_.empty() &&
        blocks_.num_free_blocks() - blocks_.num_free_blocks_needed(s.tokens, reuse_cached) < watermark_blocks()) {
      return;
    }
    s.num_computed = blocks_.allocate(id, s.tokens, reuse_cached);  // prefix-cache hits are already computed
    s.num_scheduled = s.num_computed;
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(next));
    insert_running(id);
    if (!s.ever_scheduled) plan.first_scheduled.push_back(id);
    s.ever_scheduled = true;
    add_prefill_chunk(plan, budget, s);
  }
}

int64_t Scheduler::watermark_blocks() const {
  return static_cast<int64_t>(config_.watermark * static_cast<double>(blocks_.num_total_blocks()));
}

int64_t Scheduler::num_sequence_slots_taken() const {
  auto taken = static_cast<int64_t>(running_.size());
  for (SequenceId id : running_) taken += static_cast<int64_t>(sequences_.at(id).pending_samples.size());
  return taken;
}

void Scheduler::insert_running(SequenceId seq) {
  const int64_t arrival = sequences_.at(seq).arrival;
  const auto pos = std::upper_bound(running_.begin(), running_.end(), arrival, [this](int64_t a, SequenceId other) {
    return a < sequences_.at(other).arrival;
  });
  running_.insert(pos, seq);
}

int64_t Scheduler::prefill_length(const SchedulerSequence& s, const Budget& budget) const {
  const int64_t length = std::min(budget.tokens, static_cast<int64_t>(s.tokens.size()) - s.num_scheduled);
  return s.scores_prompt() ? std::min(length, budget.prompt_logprob_rows) : length;
}

void Scheduler::add_prefill_chunk(StepPlan& plan, Budget& budget, SchedulerSequence& s) {
  const auto total = static_cast<int64_t>(s.tokens.size());
  const int64_t length = prefill_length(s, budget);
  const int64_t end = s.num_scheduled + length;
  ScheduledChunk chunk;
  chunk.seq = s.id;
  chunk.tokens.assign(s.tokens.begin() + s.num_scheduled, s.tokens.begin() + end);
  chunk.num_cached = s.num_scheduled;
  chunk.block_table = blocks_.block_table(s.id);
  chunk.wants_logits = end == total;
  if (s.scores_prompt()) {
    chunk.prompt_logprobs = s.prompt_logprobs;
    chunk.next_prompt_token = end < total ? s.tokens[static_cast<size_t>(end)] : -1;
    budget.prompt_logprob_rows -= length;
  }
  if (chunk.wants_logits) {
    chunk.sample_ids.push_back(s.id);
    chunk.sample_ids.insert(chunk.sample_ids.end(), s.pending_samples.begin(), s.pending_samples.end());
    ++s.num_pending;
  }
  plan.chunks.push_back(std::move(chunk));
  s.num_scheduled += length;
  budget.tokens -= length;
}

std::optional<SequenceId> Scheduler::preempt_latest(StepPlan& plan) {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    const SequenceId victim = *it;
    SchedulerSequence& s = sequences_.at(victim);
    // Every chunk, in this plan or in a step in flight, moves its sequence's num_scheduled past
    // num_computed until on_step_done brings them level again: unequal means it cannot be a victim.
    if (s.num_scheduled != s.num_computed) continue;
    blocks_.free(victim);
    // Recompute: prompt and generated tokens are prefilled again when it is readmitted.
    s.num_computed = 0;
    s.num_scheduled = 0;
    ++s.num_preemptions;
    ++num_preemptions_;
    running_.erase(std::next(it).base());
    insert_waiting(victim);
    plan.preempted.push_back(victim);
    return victim;
  }
  return std::nullopt;
}

void Scheduler::insert_waiting(SequenceId seq) {
  const int64_t arrival = sequences_.at(seq).arrival;
  const auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), arrival, [this](int64_t a, SequenceId other) {
    return a < sequences_.at(other).arrival;
  });
  waiting_.insert(pos, seq);
}

StepOutcome Scheduler::on_step_done(const std::vector<StepResult>& results) {
  if (in_flight_.empty()) throw std::logic_error("Scheduler::on_step_done: no step in flight");
  StepPlan plan = std::move(in_flight_.front());
  in_flight_.pop_front();
  std::unordered_map<SequenceId, int32_t> sampled;
  std::unordered_map<SequenceId, std::vector<int32_t>> runs;  // speculative decodes' tokens, in order
  for (const StepResult& r : results) {
    sampled.emplace(r.seq, r.token);
    runs[r.seq].push_back(r.token);
  }

  StepOutcome outcome;
  for (const ScheduledChunk& chunk : plan.chunks) {
    if (chunk.num_proposed > 0) {
      apply_speculative_run(chunk, runs[chunk.seq], outcome);
      continue;
    }
    SchedulerSequence& s = sequences_.at(chunk.seq);  // aborted ones were removed from the plan
    s.num_computed = chunk.num_cached + static_cast<int64_t>(chunk.tokens.size());
    blocks_.mark_computed(chunk.seq, s.num_computed);
    if (!chunk.wants_logits) continue;
    std::vector<int32_t> tokens;
    for (SequenceId id : chunk.sample_ids) {
      const auto it = sampled.find(id);
      if (it == sampled.end()) {
        throw std::logic_error(fmt::format(
            "Scheduler::on_step_done: no sampled token for sequence {} in the chunk of sequence {} that wanted logits",
            id, chunk.seq));
      }
      tokens.push_back(it->second);
    }
    // Fork before the parent's own token goes in: samples share the prompt, not the parent's token.
    for (size_t i = 0; i < chunk.sample_ids.size(); ++i) {
      if (chunk.sample_ids[i] != chunk.seq) fork_sample(s, chunk.sample_ids[i], tokens[i]);
    }
    for (size_t i = 0; i < chunk.sample_ids.size(); ++i) {
      if (chunk.sample_ids[i] != chunk.seq) continue;
      // A step planned meanwhile may already hold a slot for this token, written as kPendingToken.
      const auto position = static_cast<int64_t>(s.tokens.size());
      if (blocks_.num_tokens(chunk.seq) > position) blocks_.set_token(chunk.seq, position, tokens[i]);
      s.tokens.push_back(tokens[i]);
      --s.num_pending;
    }
    for (size_t i = 0; i < chunk.sample_ids.size(); ++i) outcome.accepted.push_back({chunk.sample_ids[i], tokens[i]});
    for (SequenceId id : chunk.sample_ids) {
      if (auto reason = finish_reason(sequences_.at(id))) finish(id, *reason, outcome.finished);
    }
  }
  return outcome;
}

void Scheduler::apply_speculative_run(const ScheduledChunk& chunk, const std::vector<int32_t>& run,
                                      StepOutcome& outcome) {
  SchedulerSequence& s = sequences_.at(chunk.seq);
  const auto accepted = static_cast<int64_t>(run.size()) - 1;
  const bool drafted = proposals_drafted_by_rank(chunk);
  if (run.empty() || accepted > chunk.num_proposed ||
      (!drafted && !std::equal(run.begin(), run.begin() + accepted, chunk.tokens.begin() + 1))) {
    throw std::logic_error(fmt::format("Scheduler::on_step_done: sequence {} proposed {} tokens and got back a run of "
                                       "{} that does not start with accepted proposals",
                                       chunk.seq, chunk.num_proposed, run.size()));
  }
  // A draft model's proposals were placeholders here: the accepted ones become the blocks' tokens
  // (prefix caching keys full blocks by them) before they count as computed.
  if (drafted) {
    for (int64_t i = 0; i < accepted; ++i) blocks_.set_token(chunk.seq, chunk.num_cached + 1 + i, run[static_cast<size_t>(i)]);
  }
  // The KV of the input and the accepted proposals is written; the rejected proposals' slots go.
  s.num_computed = chunk.num_cached + 1 + accepted;
  s.num_scheduled = s.num_computed;
  blocks_.mark_computed(chunk.seq, s.num_computed);
  blocks_.truncate(chunk.seq, s.num_computed);
  --s.num_pending;
  for (int32_t token : run) {
    s.tokens.push_back(token);
    outcome.accepted.push_back({chunk.seq, token});
    if (auto reason = finish_reason(s)) {
      finish(chunk.seq, *reason, outcome.finished);  // the rest of the run is dropped
      return;
    }
  }
}

void Scheduler::fork_sample(SchedulerSequence& parent, SequenceId child_id, int32_t token) {
  SchedulerSequence& child = sequences_.at(child_id);
  if (child.fork_parent != parent.id) {
    throw std::logic_error(fmt::format("Scheduler: sequence {} is not an unforked sample of sequence {}", child_id, parent.id));
  }
  blocks_.fork(parent.id, child_id);  // refcounts only; the token's slot is taken when it is next planned
  child.fork_parent.reset();
  child.ever_scheduled = true;
  child.num_computed = parent.num_computed;
  child.num_scheduled = parent.num_computed;
  child.num_pending = 0;
  child.tokens.push_back(token);
  auto& pending = parent.pending_samples;
  pending.erase(std::remove(pending.begin(), pending.end(), child_id), pending.end());
  insert_running(child_id);
}

std::optional<FinishReason> Scheduler::finish_reason(const SchedulerSequence& s) const {
  const int32_t last = s.tokens.back();
  if (std::find(s.stop_token_ids.begin(), s.stop_token_ids.end(), last) != s.stop_token_ids.end()) {
    return FinishReason::stop;
  }
  if (s.num_generated() >= s.max_tokens) return FinishReason::length;
  return std::nullopt;
}

void Scheduler::finish(SequenceId seq, FinishReason reason, std::vector<FinishedSequence>& out) {
  auto it = sequences_.find(seq);
  FinishedSequence done;
  done.seq = seq;
  done.reason = reason;
  done.generated.assign(it->second.tokens.begin() + it->second.prompt_len, it->second.tokens.end());
  blocks_.free(seq);
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  drop_from_step_in_flight(seq);  // a step planned before this one finished may hold it too
  sequences_.erase(it);
  out.push_back(std::move(done));
}

const SchedulerSequence* Scheduler::find(SequenceId seq) const {
  auto it = sequences_.find(seq);
  return it == sequences_.end() ? nullptr : &it->second;
}

std::vector<SequenceId> Scheduler::waiting_ids() const { return {waiting_.begin(), waiting_.end()}; }
std::vector<SequenceId> Scheduler::running_ids() const { return running_; }

}  // namespace sabre
