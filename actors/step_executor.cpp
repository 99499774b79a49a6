#include "actors/step_executor.hpp"

#include <fmt/format.h>

#include <chrono>
#include <span>
#include <stdexcept>

namespace sabre {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

StepExecutor::StepExecutor(Transformer& model, int64_t num_blocks, int64_t block_size)
    : model_(model), kv_(model.create_kv_cache(num_blocks, block_size)) {}

StepOutput StepExecutor::execute(const StepInput& input) {
  for (SequenceId seq : input.released) samplers_.erase(seq);
  for (const SamplerSpec& spec : input.new_samplers) {
    samplers_.insert_or_assign(spec.seq, Sampler(spec.params, spec.prompt, spec.eos_token_ids));
  }

  StepOutput output;
  if (input.plan.empty()) return output;
  const auto model_start = std::chrono::steady_clock::now();
  if (!input.plan.block_copies.empty()) {
    model_.backend().copy_kv_blocks(*kv_, kv_block_copies(input.plan));
  }
  const ForwardBatch batch = to_forward_batch(input.plan, kv_.get());
  const auto vocab = static_cast<size_t>(model_.config().vocab_size);
  logits_.resize(batch.logit_rows.size() * vocab);
  model_.forward(batch, logits_);
  output.model_seconds = seconds_since(model_start);

  // Logits rows come in chunk order, one per chunk that wants logits.
  const auto sample_start = std::chrono::steady_clock::now();
  size_t row = 0;
  for (const ScheduledChunk& chunk : input.plan.chunks) {
    if (!chunk.wants_logits) continue;
    const std::span<const float> logits(logits_.data() + row * vocab, vocab);
    ++row;
    for (SequenceId seq : chunk.sample_ids) {
      auto sampler = samplers_.find(seq);
      if (sampler == samplers_.end()) {
        throw std::logic_error(fmt::format("step executor: sequence {} has no sampler", seq));
      }
      output.samples.push_back({seq, sampler->second.sample(logits)});
    }
  }
  output.sample_seconds = seconds_since(sample_start);
  return output;
}

}  // namespace sabre
