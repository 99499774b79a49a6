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
  for (SequenceId seq : input.released) {
    samplers_.erase(seq);
    last_sampled_.erase(seq);
  }
  for (const SamplerSpec& spec : input.new_samplers) {
    samplers_.insert_or_assign(spec.seq, Sampler(spec.params, spec.prompt, spec.eos_token_ids));
  }

  StepOutput output;
  if (input.plan.empty()) return output;
  const bool has_pending = std::any_of(input.plan.chunks.begin(), input.plan.chunks.end(),
                                       [](const ScheduledChunk& c) { return c.input_is_pending; });
  std::optional<StepPlan> resolved;
  if (has_pending) resolved = resolve_pending_inputs(input.plan);
  const StepPlan& plan = resolved ? *resolved : input.plan;
  const auto model_start = std::chrono::steady_clock::now();
  if (!plan.block_copies.empty()) {
    model_.backend().copy_kv_blocks(*kv_, kv_block_copies(plan));
  }
  const ForwardBatch batch = to_forward_batch(plan, kv_.get());
  const auto vocab = static_cast<size_t>(model_.config().vocab_size);
  logits_.resize(batch.logit_rows.size() * vocab);
  model_.forward(batch, logits_);
  output.model_seconds = seconds_since(model_start);

  // Logits rows come in chunk order, one per chunk that wants logits.
  const auto sample_start = std::chrono::steady_clock::now();
  size_t row = 0;
  for (const ScheduledChunk& chunk : plan.chunks) {
    if (!chunk.wants_logits) continue;
    const std::span<const float> logits(logits_.data() + row * vocab, vocab);
    ++row;
    for (SequenceId seq : chunk.sample_ids) {
      auto sampler = samplers_.find(seq);
      if (sampler == samplers_.end()) {
        throw std::logic_error(fmt::format("step executor: sequence {} has no sampler", seq));
      }
      output.samples.push_back({seq, sampler->second.sample(logits)});
      last_sampled_[seq] = output.samples.back().token.token;
    }
  }
  output.sample_seconds = seconds_since(sample_start);
  return output;
}

}  // namespace sabre
