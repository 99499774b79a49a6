#include "actors/step_executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>

namespace sabre {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

StepExecutor::StepExecutor(Transformer& model, int64_t num_blocks, int64_t block_size,
                           std::optional<ElementType> kv_dtype)
    : model_(model), kv_(model.create_kv_cache(num_blocks, block_size, kv_dtype)) {}

StepPlan StepExecutor::resolve_pending_inputs(const StepPlan& plan) const {
  StepPlan resolved = plan;
  for (ScheduledChunk& chunk : resolved.chunks) {
    if (!chunk.input_is_pending) continue;
    const auto last = last_sampled_.find(chunk.seq);
    if (last == last_sampled_.end()) {
      throw std::logic_error(fmt::format("step executor: sequence {} decodes the token of a step it was not sampled in",
                                         chunk.seq));
    }
    chunk.tokens.assign(1, last->second);
  }
  return resolved;
}

StepOutput StepExecutor::execute(const StepInput& input) {
  Backend& backend = model_.backend();
  // Sampler keys are the sequence ids.
  const std::vector<uint64_t> released(input.released.begin(), input.released.end());
  backend.release_samplers(released);
  for (SequenceId seq : input.released) last_sampled_.erase(seq);
  backend.add_samplers(input.new_samplers);

  StepOutput output;
  if (input.plan.empty()) return output;
  const bool has_pending = std::any_of(input.plan.chunks.begin(), input.plan.chunks.end(),
                                       [](const ScheduledChunk& c) { return c.input_is_pending; });
  std::optional<StepPlan> resolved;
  if (has_pending) resolved = resolve_pending_inputs(input.plan);
  const StepPlan& plan = resolved ? *resolved : input.plan;
  const auto model_start = std::chrono::steady_clock::now();
  if (!plan.block_copies.empty()) backend.copy_kv_blocks(*kv_, kv_block_copies(plan));
  model_.forward(to_forward_batch(plan, kv_.get()));
  output.model_seconds = seconds_since(model_start);

  // Logits rows come in chunk order, one per chunk that wants logits; each of its sample ids draws from it.
  const auto sample_start = std::chrono::steady_clock::now();
  rows_.clear();
  int32_t row = 0;
  for (const ScheduledChunk& chunk : plan.chunks) {
    if (!chunk.wants_logits) continue;
    for (SequenceId seq : chunk.sample_ids) rows_.push_back({row, static_cast<uint64_t>(seq), true, {}});
    ++row;
  }
  model_.sample(rows_, sampled_);
  for (size_t i = 0; i < rows_.size(); ++i) {
    const auto seq = static_cast<SequenceId>(rows_[i].sampler);
    output.samples.push_back({seq, std::move(sampled_[i])});
    last_sampled_[seq] = output.samples.back().token.token;
  }
  output.sample_seconds = seconds_since(sample_start);
  return output;
}

}  // namespace sabre
