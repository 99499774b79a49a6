#include "actors/step_executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>

#include "kernels/speculative.hpp"

namespace sabre {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

StepExecutor::StepExecutor(Transformer& model, int64_t num_blocks, int64_t block_size,
                           std::optional<ElementType> kv_dtype)
    : model_(model), kv_(model.create_kv_cache(num_blocks, block_size, kv_dtype)) {}

void StepExecutor::verify_proposals(const ScheduledChunk& chunk, int32_t first_row, int64_t logit_rows,
                                    StepOutput& output) {
  Backend& backend = model_.backend();
  const int64_t vocab = model_.config().vocab_size;
  const int64_t rows = 1 + chunk.num_proposed;
  const auto state = speculation_.find(chunk.seq);
  if (state == speculation_.end()) {
    throw std::logic_error(fmt::format("step executor: sequence {} speculates without a sampler", chunk.seq));
  }
  const std::span<const int32_t> proposed(chunk.tokens.data() + 1, static_cast<size_t>(chunk.num_proposed));
  // The target's distribution at each position, the proposals before it counted as generated.
  std::vector<SampleRow> rows_spec;
  for (int64_t i = 0; i < rows; ++i) {
    rows_spec.push_back({first_row + static_cast<int32_t>(i), static_cast<uint64_t>(chunk.seq), false,
                         std::vector<int32_t>(proposed.begin(), proposed.begin() + i)});
  }
  if (!probabilities_ || probabilities_->elements() < rows * vocab) {
    probabilities_ = backend.allocate(ElementType::f32, rows * vocab);
  }
  backend.distributions(model_.logits(), logit_rows, vocab, rows_spec, static_cast<float*>(probabilities_->raw()));
  std::vector<float> p(static_cast<size_t>(rows * vocab)), logits(static_cast<size_t>(rows * vocab));
  backend.download(probabilities_->raw(), std::as_writable_bytes(std::span(p)));
  backend.download(model_.logits() + static_cast<int64_t>(first_row) * vocab, std::as_writable_bytes(std::span(logits)));
  const VerifiedRun run =
      verify_speculation(proposed, {}, p, vocab, {state->second.seed, state->second.stream, state->second.generated});
  std::vector<CommittedToken> commits;
  for (size_t i = 0; i < run.tokens.size(); ++i) {
    const std::span<const float> row(logits.data() + i * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
    output.samples.push_back({chunk.seq, scored_token(row, run.tokens[i], state->second.top_logprobs)});
    commits.push_back({static_cast<uint64_t>(chunk.seq), run.tokens[i]});
  }
  backend.commit(commits);
  state->second.generated += run.tokens.size();
  last_sampled_[chunk.seq] = run.tokens.back();
  ++output.num_speculative;
  output.num_proposed += chunk.num_proposed;
  output.num_accepted += run.accepted;
}

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
  for (SequenceId seq : input.released) {
    last_sampled_.erase(seq);
    speculation_.erase(seq);
  }
  backend.add_samplers(input.new_samplers);
  for (const SamplerSpec& spec : input.new_samplers) {
    speculation_[static_cast<SequenceId>(spec.key)] = {spec.params.seed, spec.stream, 0,
                                                      static_cast<int32_t>(spec.params.top_logprobs)};
  }

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
  std::vector<std::pair<const ScheduledChunk*, int32_t>> speculative;  // chunk, its first logits row
  for (const ScheduledChunk& chunk : plan.chunks) {
    if (!chunk.wants_logits) continue;
    if (chunk.num_proposed > 0) {
      speculative.emplace_back(&chunk, row);
      row += 1 + chunk.num_proposed;
      continue;
    }
    for (SequenceId seq : chunk.sample_ids) rows_.push_back({row, static_cast<uint64_t>(seq), true, {}});
    ++row;
  }
  if (!rows_.empty()) model_.sample(rows_, sampled_);
  for (size_t i = 0; i < rows_.size(); ++i) {
    const auto seq = static_cast<SequenceId>(rows_[i].sampler);
    output.samples.push_back({seq, std::move(sampled_[i])});
    last_sampled_[seq] = output.samples.back().token.token;
    if (auto it = speculation_.find(seq); it != speculation_.end()) ++it->second.generated;
  }
  for (const auto& [chunk, first_row] : speculative) verify_proposals(*chunk, first_row, row, output);
  output.sample_seconds = seconds_since(sample_start);
  return output;
}

}  // namespace sabre
