#include "actors/engine_core.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "actors/engine_metrics.hpp"
#include "model/ngram_proposer.hpp"

namespace sabre {

EngineCore::EngineCore(EngineCoreOptions options) : options_(std::move(options)) {
  if (options_.world_size < 1) {
    throw std::invalid_argument(fmt::format("engine core: a world of {} ranks", options_.world_size));
  }
  blocks_ = std::make_unique<BlockManager>(options_.blocks);
  scheduler_ = std::make_unique<Scheduler>(options_.scheduler, *blocks_);
  if (options_.speculative_steps > 0) {
    Scheduler::Proposer propose = [](std::span<const int32_t> tokens, int32_t k) { return propose_ngram(tokens, k); };
    if (options_.draft_on_rank) {
      propose = [](std::span<const int32_t>, int32_t k) { return std::vector<int32_t>(static_cast<size_t>(k), kDraftToken); };
    }
    scheduler_->enable_speculation(options_.speculative_steps, std::move(propose), options_.speculative_max_rows,
                                   options_.speculative_disable_above);
  }
}

SubmitReply EngineCore::submit(const SequenceSubmission& submission, OwnerId owner, CoreOutput& out) {
  SubmitReply reply;
  if (failed()) {
    reply.error_type = "internal_error";
    reply.error_message = "the engine has stopped: " + *failure_;
    return reply;
  }
  std::vector<SequenceId> ids;
  for (int64_t i = 0; i < submission.n; ++i) ids.push_back(next_id_++);
  SequenceRequest request;
  request.id = ids.front();
  request.prompt = submission.prompt;
  request.max_tokens = submission.max_tokens;
  request.stop_token_ids = submission.sampling.stop_token_ids;
  request.stop_token_ids.insert(request.stop_token_ids.end(), submission.eos_token_ids.begin(),
                                submission.eos_token_ids.end());
  request.extra_sample_ids.assign(ids.begin() + 1, ids.end());
  request.prompt_logprobs = submission.prompt_logprobs;
  try {
    scheduler_->add(std::move(request));
  } catch (const SchedulerOverloaded& e) {
    reply.error_type = "overloaded";
    reply.error_message = e.what();
    return reply;
  } catch (const SchedulerRequestInvalid& e) {
    reply.error_type = "invalid_request_error";
    reply.error_message = e.what();
    return reply;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    TrackedSequence tracked{owner, {}, submission.arrival};
    tracked.sampler.key = static_cast<uint64_t>(ids[i]);
    tracked.sampler.params = submission.sampling;
    tracked.sampler.prompt = submission.prompt;
    tracked.sampler.eos_token_ids = submission.eos_token_ids;
    tracked.sampler.stream = i;  // sample i of the request: its own stream under the request's seed
    sequences_.emplace(ids[i], std::move(tracked));
    ++owner_sequences_[owner];
  }
  reply.sequence_ids = std::move(ids);
  publish_state();
  (void)out;
  return reply;
}

void EngineCore::forget(SequenceId seq, CoreOutput& out) {
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return;
  const OwnerId owner = it->second.owner;
  sequences_.erase(it);
  if (known_to_ranks_.erase(seq) != 0) released_.push_back(seq);
  if (--owner_sequences_[owner] == 0) {
    owner_sequences_.erase(owner);
    out.released_owners.push_back(owner);
  }
}

void EngineCore::abort(std::span<const SequenceId> seqs, CoreOutput& out) {
  for (SequenceId seq : seqs) {
    scheduler_->abort(seq);
    forget(seq, out);
  }
  publish_state();
}

StepInput EngineCore::make_step_input(StepPlan plan, CoreOutput& out, EngineClock::time_point now) {
  StepInput input;
  for (SequenceId seq : plan.first_scheduled) {
    const auto tracked = sequences_.find(seq);
    if (tracked == sequences_.end()) continue;
    SequenceUpdate first;
    first.seq = seq;
    first.queue_seconds = std::chrono::duration<double>(now - tracked->second.arrival).count();
    if (options_.metrics) options_.metrics->observe_queue_time(first.queue_seconds);
    for (const ScheduledChunk& chunk : plan.chunks) {
      if (chunk.seq == seq) first.cached_prompt_tokens = chunk.num_cached;
    }
    out.messages.push_back({tracked->second.owner, std::move(first)});
  }
  // Samplers for sequences the ranks will sample for the first time.
  for (const ScheduledChunk& chunk : plan.chunks) {
    for (SequenceId seq : chunk.sample_ids) {
      if (known_to_ranks_.count(seq) != 0) continue;
      const auto it = sequences_.find(seq);
      if (it == sequences_.end()) continue;
      input.new_samplers.push_back(it->second.sampler);
      known_to_ranks_.insert(seq);
    }
  }
  input.plan = std::move(plan);
  input.released = std::move(released_);
  released_.clear();
  return input;
}

std::optional<PlannedStep> EngineCore::plan_step(CoreOutput& out, EngineClock::time_point now) {
  if (failed() || !scheduler_->can_schedule() || !scheduler_->has_unfinished()) return std::nullopt;
  const bool ahead = scheduler_->step_in_flight();
  StepPlan plan = scheduler_->schedule();
  if (plan.empty()) return std::nullopt;
  num_steps_planned_ahead_ += ahead ? 1 : 0;
  ++num_steps_;
  batched_tokens_ += plan.num_batched_tokens;
  PlannedStep step{next_step_++, std::make_shared<const StepInput>(make_step_input(std::move(plan), out, now)), now};
  in_flight_.push_back({step, options_.world_size, std::nullopt, std::nullopt});
  return step;
}

// The wall time of a step at the rank: from when it was sent, or from when the rank finished the step
// before it if that was later (the step waited in the rank's queue, its planning hidden), to when the
// rank finished it. Planning that the rank waits for falls between steps, outside every step's time.
double EngineCore::step_wall_seconds(EngineClock::time_point sent, EngineClock::time_point finished) {
  const double wall = std::chrono::duration<double>(finished - std::max(sent, last_step_finished_)).count();
  last_step_finished_ = std::max(last_step_finished_, finished);
  return std::max(0.0, wall);
}

void EngineCore::on_rank_output(uint64_t id, int32_t rank, StepOutput output, CoreOutput& out) {
  const auto step = std::find_if(in_flight_.begin(), in_flight_.end(), [id](const InFlightStep& s) { return s.step.id == id; });
  if (step == in_flight_.end()) return;  // a step dropped when the engine failed
  if (rank == 0) step->rank0 = std::move(output);
  --step->remaining;
  apply_completed_steps(out);
}

void EngineCore::apply_completed_steps(CoreOutput& out) {
  while (!in_flight_.empty() && in_flight_.front().remaining == 0) {
    if (in_flight_.front().echo_failure) {
      // Every rank answered and none said more than that a collective failed.
      fail(*in_flight_.front().echo_failure, out);
      return;
    }
    const InFlightStep step = std::move(in_flight_.front());
    in_flight_.pop_front();
    apply(step, out);
  }
}

void EngineCore::apply(const InFlightStep& step, CoreOutput& out) {
  const StepOutput& output = *step.rank0;
  const double wall = step_wall_seconds(step.step.sent, output.finished_at);
  step_seconds_ += wall;
  const double model_seconds = output.model_seconds + output.sample_seconds;
  model_seconds_ += model_seconds;

  std::vector<StepResult> results;
  results.reserve(output.samples.size());
  // A sequence's samples in order: one, or a speculative decode's run.
  std::unordered_map<SequenceId, std::vector<const SampledToken*>> sampled;
  for (const SequenceSample& s : output.samples) {
    results.push_back({s.seq, s.token.token});
    sampled[s.seq].push_back(&s.token);
  }
  const StepOutcome outcome = scheduler_->on_step_done(results);
  std::unordered_map<SequenceId, FinishReason> finished_reason;
  for (const FinishedSequence& f : outcome.finished) finished_reason.emplace(f.seq, f.reason);

  std::unordered_map<SequenceId, int32_t> proposed_for;
  for (const ScheduledChunk& chunk : step.step.input->plan.chunks) {
    if (chunk.num_proposed > 0) proposed_for[chunk.seq] = chunk.num_proposed;
  }
  // Only the tokens the scheduler accepted reach the requests (not those of sequences aborted meanwhile,
  // nor the end of a run cut by a stop): one update per sequence, its tokens in order. A scored prompt
  // opens its sequence's update, so that it reaches the request before the tokens of samples forked
  // from it in this step.
  std::unordered_map<SequenceId, size_t> update_of;
  for (const PromptScores& scores : output.prompt_scores) {
    const auto tracked = sequences_.find(scores.seq);
    if (tracked == sequences_.end()) continue;  // aborted while the step ran
    update_of.emplace(scores.seq, out.messages.size());
    SequenceUpdate update;
    update.seq = scores.seq;
    update.first_scored = scores.first_scored;
    update.prompt_logprobs = scores.tokens;
    out.messages.push_back({tracked->second.owner, std::move(update)});
  }
  std::unordered_map<SequenceId, size_t> next_token;
  for (const StepResult& accepted : outcome.accepted) {
    const auto tracked = sequences_.find(accepted.seq);
    if (tracked == sequences_.end()) continue;
    const SampledToken& token = *sampled.at(accepted.seq).at(next_token[accepted.seq]++);
    auto [at, fresh] = update_of.emplace(accepted.seq, out.messages.size());
    if (fresh) {
      SequenceUpdate update;
      update.seq = accepted.seq;
      if (const auto p = proposed_for.find(accepted.seq); p != proposed_for.end()) {
        update.proposed = p->second;
        update.accepted = static_cast<int32_t>(sampled.at(accepted.seq).size()) - 1;
      }
      out.messages.push_back({tracked->second.owner, std::move(update)});
    }
    auto& update = std::get<SequenceUpdate>(out.messages[at->second].message);
    update.tokens.push_back(token);
    if (const auto f = finished_reason.find(accepted.seq); f != finished_reason.end()) {
      update.finished = true;
      update.reason = f->second;
    }
  }
  num_proposed_ += output.num_proposed;
  num_accepted_ += output.num_accepted;
  if (options_.metrics && output.num_speculative > 0) {
    options_.metrics->observe_speculation(output.num_speculative, output.num_proposed, output.num_accepted);
  }
  for (const FinishedSequence& f : outcome.finished) forget(f.seq, out);
  if (options_.metrics) options_.metrics->observe_step(step.step.input->plan.num_batched_tokens, model_seconds,
                                                      wall - model_seconds);
  publish_state();
}

void EngineCore::on_rank_failure(uint64_t id, int32_t rank, const std::string& why, CoreOutput& out) {
  if (failed()) return;
  const std::string cause = fmt::format("rank {} failed step {}: {}", rank, id, why);
  const auto step =
      std::find_if(in_flight_.begin(), in_flight_.end(), [id](const InFlightStep& s) { return s.step.id == id; });
  if (step != in_flight_.end() && why.find(kCollectiveFailure) != std::string::npos) {
    // Most likely the echo of another rank's failure (it aborted or vanished in the middle of a
    // collective): wait for that rank's own answer, which says what went wrong (bounded by the timeout).
    if (!step->echo_failure) step->echo_failure = cause;
    if (--step->remaining > 0) return;
    fail(*step->echo_failure, out);
    return;
  }
  fail(cause, out);
}

void EngineCore::fail(const std::string& cause, CoreOutput& out) {
  failure_ = cause;
  spdlog::error("engine: {}; every request still running ends with an error and the engine stops", *failure_);
  in_flight_.clear();
  std::vector<SequenceId> live;
  live.reserve(sequences_.size());
  for (const auto& [seq, tracked] : sequences_) live.push_back(seq);
  std::sort(live.begin(), live.end());
  for (SequenceId seq : live) {
    out.messages.push_back({sequences_.at(seq).owner, SequenceFailure{seq, "the engine stopped: " + *failure_}});
    scheduler_->abort(seq);
    forget(seq, out);
  }
  publish_state();
}

EngineInfo EngineCore::info() const {
  EngineInfo info;
  info.model_name = options_.model_name;
  info.max_model_len = options_.scheduler.max_model_len;
  info.vocab_size = options_.vocab_size;
  info.max_num_seqs = options_.scheduler.max_num_seqs;
  info.kv_block_size = options_.blocks.block_size;
  const SchedulerState now = read_scheduler_state(*scheduler_, *blocks_);
  info.num_running = now.num_running;
  info.num_waiting = now.num_waiting;
  info.kv_blocks_total = now.kv_blocks_total;
  info.kv_blocks_used = now.kv_blocks_used;
  info.num_preemptions = now.num_preemptions;
  info.prefix_cache_queried_blocks = now.prefix_cache.queried_blocks;
  info.prefix_cache_hit_blocks = now.prefix_cache.hit_blocks;
  info.num_steps = num_steps_;
  info.num_steps_planned_ahead = num_steps_planned_ahead_;
  info.batched_tokens = batched_tokens_;
  info.step_seconds = step_seconds_;
  info.model_seconds = model_seconds_;
  info.speculative_proposed = num_proposed_;
  info.speculative_accepted = num_accepted_;
  return info;
}

void EngineCore::publish_state() const {
  if (options_.metrics) options_.metrics->set_scheduler_state(read_scheduler_state(*scheduler_, *blocks_));
}

}  // namespace sabre
