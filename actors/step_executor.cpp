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
                           std::optional<ElementType> kv_dtype, Transformer* draft,
                           std::shared_ptr<structured::GuidedCompiler> guided)
    : model_(model), guided_(std::move(guided)), kv_(model.create_kv_cache(num_blocks, block_size, kv_dtype)) {
  if (draft != nullptr) {
    draft_ = std::make_unique<DraftRunner>(*draft, num_blocks, block_size, kv_dtype.value_or(kv_->shape().dtype));
  }
}

void StepExecutor::draft_proposals(StepPlan& plan) {
  // Which chunks have placeholders, noted before drafting fills them in.
  std::vector<ScheduledChunk*> drafted;
  for (ScheduledChunk& chunk : plan.chunks) {
    if (proposals_drafted_by_rank(chunk)) drafted.push_back(&chunk);
  }
  Communicator* group = model_.communicator();
  const bool shared = group != nullptr && group->world_size() > 1;
  if (draft_) {
    draft_->propose(plan);
  } else if (!shared) {
    throw std::logic_error("step executor: a step with drafted proposals on a rank without a draft model");
  }
  if (!shared) return;
  // Every rank verifies the same proposals: rank 0's, the one that drafts.
  std::vector<int32_t> proposals;
  for (const ScheduledChunk* chunk : drafted) {
    proposals.insert(proposals.end(), chunk->tokens.begin() + 1, chunk->tokens.end());
  }
  Backend& backend = model_.backend();
  const auto count = static_cast<int64_t>(proposals.size());
  if (!proposals_buffer_ || proposals_buffer_->elements() < count) {
    proposals_buffer_ = backend.allocate(ElementType::i32, count);
  }
  if (draft_) backend.write(*proposals_buffer_, std::as_bytes(std::span(proposals)));
  group->broadcast(proposals_buffer_->raw(), count, ElementType::i32, 0);
  backend.download(proposals_buffer_->raw(), std::as_writable_bytes(std::span(proposals)));
  size_t next = 0;
  for (ScheduledChunk* chunk : drafted) {
    std::copy_n(proposals.begin() + static_cast<std::ptrdiff_t>(next), chunk->num_proposed, chunk->tokens.begin() + 1);
    next += static_cast<size_t>(chunk->num_proposed);
  }
}

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
  // With a draft model every proposal is its own (the plan's placeholders are filled in by now).
  if (draft_) draft_->verified(chunk, run.tokens);
  last_sampled_[chunk.seq] = run.tokens.back();
  ++output.num_speculative;
  output.num_proposed += chunk.num_proposed;
  output.num_accepted += run.accepted;
}

void StepExecutor::score_prompt(const ScheduledChunk& chunk, int32_t first_row, StepOutput& output) {
  const int64_t vocab = model_.config().vocab_size;
  const size_t length = chunk.tokens.size();
  // Row i scores the prompt token after it; the last row only when the prompt goes on past the chunk.
  const size_t count = chunk.next_prompt_token >= 0 ? length : length - 1;
  if (count == 0) return;
  std::vector<float> logits(count * static_cast<size_t>(vocab));
  model_.backend().download(model_.logits() + static_cast<int64_t>(first_row) * vocab,
                            std::as_writable_bytes(std::span(logits)));
  PromptScores scores{chunk.seq, chunk.num_cached + 1, {}};
  scores.tokens.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::span<const float> row(logits.data() + i * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
    const int32_t target = i + 1 < length ? chunk.tokens[i + 1] : chunk.next_prompt_token;
    SampledToken token = scored_token(row, target, chunk.prompt_logprobs);
    const float own = row[static_cast<size_t>(target)];
    token.rank = 1 + static_cast<int32_t>(std::count_if(row.begin(), row.end(), [own](float x) { return x > own; }));
    scores.tokens.push_back(std::move(token));
  }
  output.prompt_scores.push_back(std::move(scores));
}

void StepExecutor::add_samplers(const std::vector<SamplerSpec>& specs) {
  const bool any_guided = std::any_of(specs.begin(), specs.end(), [](const SamplerSpec& s) {
    return s.params.guided.active() && !s.constraint;
  });
  if (!any_guided) return model_.backend().add_samplers(specs);
  std::vector<SamplerSpec> attached = specs;
  for (SamplerSpec& spec : attached) {
    if (!spec.params.guided.active() || spec.constraint) continue;
    if (!guided_) {
      throw std::invalid_argument(fmt::format("sequence {} asks for guided decoding, but the model has no tokenizer",
                                              spec.key));
    }
    spec.constraint = guided_->compile(spec.params.guided);
  }
  model_.backend().add_samplers(attached);
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
    if (draft_) draft_->release(seq);
  }
  add_samplers(input.new_samplers);
  for (const SamplerSpec& spec : input.new_samplers) {
    speculation_[static_cast<SequenceId>(spec.key)] = {spec.params.seed, spec.stream, 0,
                                                      static_cast<int32_t>(spec.params.top_logprobs)};
  }

  StepOutput output;
  if (input.plan.empty()) return output;
  const auto& chunks = input.plan.chunks;
  const bool has_pending =
      std::any_of(chunks.begin(), chunks.end(), [](const ScheduledChunk& c) { return c.input_is_pending; });
  const bool has_drafts = std::any_of(chunks.begin(), chunks.end(), proposals_drafted_by_rank);
  std::optional<StepPlan> resolved;
  if (has_pending) resolved = resolve_pending_inputs(input.plan);
  if (has_drafts && !resolved) resolved = input.plan;
  const StepPlan& plan = resolved ? *resolved : input.plan;
  const auto model_start = std::chrono::steady_clock::now();
  if (!plan.block_copies.empty()) {
    const std::vector<KvBlockCopy> copies = kv_block_copies(plan);
    backend.copy_kv_blocks(*kv_, copies);
    if (draft_) draft_->copy_blocks(copies);
  }
  // The draft follows every step (its KV keeps up with the target's), and drafts where asked.
  if (has_drafts) {
    draft_proposals(*resolved);
  } else if (draft_) {
    draft_->follow(plan);
  }
  model_.forward(to_forward_batch(plan, kv_.get()));
  output.model_seconds = seconds_since(model_start);

  // Logits rows come in chunk order, ScheduledChunk::logit_rows() per chunk; the sample ids of a chunk
  // that wants logits draw from its last row.
  const auto sample_start = std::chrono::steady_clock::now();
  rows_.clear();
  int32_t row = 0;
  std::vector<std::pair<const ScheduledChunk*, int32_t>> speculative;  // chunk, its first logits row
  std::vector<std::pair<const ScheduledChunk*, int32_t>> scored;       // the same for chunks scoring a prompt
  for (const ScheduledChunk& chunk : plan.chunks) {
    const auto rows = static_cast<int32_t>(chunk.logit_rows());
    if (rows == 0) continue;
    if (chunk.num_proposed > 0) {
      speculative.emplace_back(&chunk, row);
      row += rows;
      continue;
    }
    if (chunk.scores_prompt()) scored.emplace_back(&chunk, row);
    if (chunk.wants_logits) {
      for (SequenceId seq : chunk.sample_ids) rows_.push_back({row + rows - 1, static_cast<uint64_t>(seq), true, {}});
    }
    row += rows;
  }
  // Only rank 0's output is read; the other ranks of a group hold the same logits.
  const Communicator* group = model_.communicator();
  if (group == nullptr || group->rank() == 0) {
    for (const auto& [chunk, first_row] : scored) score_prompt(*chunk, first_row, output);
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
