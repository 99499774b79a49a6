#include "model/speculative_generator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/speculative.hpp"
#include "model/generation_sequence.hpp"

namespace sabre {
namespace {

int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// log_softmax(row)[token]: the raw log-probability generate() reports.
float raw_logprob(std::span<const float> row, int32_t token) {
  const float top = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row) sum += std::exp(static_cast<double>(x - top));
  return static_cast<float>(static_cast<double>(row[static_cast<size_t>(token)] - top) - std::log(sum));
}

std::vector<float> download_floats(Backend& backend, const void* data, size_t count) {
  std::vector<float> out(count);
  backend.download(data, std::as_writable_bytes(std::span(out)));
  return out;
}

}  // namespace

DraftModelProposer::DraftModelProposer(Transformer& draft, int64_t target_vocab, int64_t max_tokens)
    : draft_(draft),
      kv_(draft.create_sequence_kv(max_tokens)),
      logits_(static_cast<size_t>(draft.config().vocab_size)) {
  if (draft.config().vocab_size != target_vocab) {
    throw std::invalid_argument(fmt::format(
        "the draft model's vocabulary has {} tokens and the target's {}: a draft must share the target's vocabulary",
        draft.config().vocab_size, target_vocab));
  }
}

int32_t DraftModelProposer::run(std::span<const int32_t> tokens) {
  ForwardBatch batch;
  const auto cached = static_cast<int64_t>(cached_.size());
  batch.add_sequence(tokens.subspan(static_cast<size_t>(cached)), cached, kv_.cache.get(), kv_.block_table, true);
  draft_.forward(batch, logits_);
  cached_.assign(tokens.begin(), tokens.end());
  return argmax(logits_);
}

std::vector<int32_t> DraftModelProposer::propose(std::span<const int32_t> tokens, int32_t k) {
  if (k <= 0 || tokens.empty()) return {};
  // Keep the KV of the longest common prefix, and always recompute the last token (its logits are needed).
  size_t common = 0;
  while (common < cached_.size() && common < tokens.size() && cached_[common] == tokens[common]) ++common;
  common = std::min(common, tokens.size() - 1);
  cached_.resize(common);
  // The prompt may be longer than one step: feed it in steps of the draft's limit.
  const auto chunk = static_cast<size_t>(draft_.limits().max_tokens);
  while (tokens.size() - cached_.size() > chunk) {
    ForwardBatch batch;
    const auto cached = static_cast<int64_t>(cached_.size());
    batch.add_sequence(tokens.subspan(cached_.size(), chunk), cached, kv_.cache.get(), kv_.block_table, false);
    draft_.forward(batch);
    cached_.insert(cached_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(cached_.size()),
                   tokens.begin() + static_cast<std::ptrdiff_t>(cached_.size() + chunk));
  }
  std::vector<int32_t> sequence(tokens.begin(), tokens.end());
  std::vector<int32_t> proposed;
  for (int32_t i = 0; i < k; ++i) {
    const int32_t next = run(sequence);
    proposed.push_back(next);
    sequence.push_back(next);
  }
  return proposed;
}

GenerationResult generate_speculative(Transformer& target, TokenProposer& proposer, int32_t k,
                                      std::span<const int32_t> prompt, const GenerationOptions& options,
                                      const TokenCallback& on_token, SpeculationStats* stats) {
  check_generation(target, prompt, options);
  if (k < 1) throw std::invalid_argument(fmt::format("speculative decoding: {} speculative steps (at least 1)", k));
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  if (k + 1 > target.limits().max_logit_rows || k + 1 > target.limits().max_tokens) {
    throw std::invalid_argument(fmt::format("speculative decoding: {} steps need {} logits rows per pass; the model "
                                            "allows {}",
                                            k, k + 1, target.limits().max_logit_rows));
  }
  Backend& backend = target.backend();
  const SequenceSampler sampler(backend, prompt, options);
  const SamplerSpec& spec = sampler.spec();
  GenerationResult result;
  result.prompt_tokens = prompt_length;
  if (options.max_new_tokens == 0) return result;

  // Room for the longest run a pass can write beyond the last token.
  const SequenceKv kv = target.create_sequence_kv(
      prompt_length + options.max_new_tokens + k, 16,
      kv_element_type(options.kv_cache_dtype, backend.activation_type()));
  const int64_t vocab = target.config().vocab_size;
  auto probabilities = backend.allocate(ElementType::f32, (k + 1) * vocab);

  using clock = std::chrono::steady_clock;
  const auto prefill_start = clock::now();
  ForwardBatch batch;
  prefill_prompt(target, prompt, kv, batch);
  // The first token comes from the prompt's logits as generate() draws it.
  std::vector<SampledToken> sampled;
  const SampleRow first_row{0, spec.key, true, {}};
  target.sample(std::span(&first_row, 1), sampled);
  std::vector<int32_t> sequence(prompt.begin(), prompt.end());
  int64_t cached = prompt_length;  // positions whose KV the target holds: all but the last token
  bool done = false;
  // Appends a token; false once generation has ended (a stop id, the caller, or max_new_tokens).
  const auto emit = [&](int32_t token, float logprob) {
    result.tokens.push_back(token);
    result.logprobs.push_back(logprob);
    sequence.push_back(token);
    const bool keep_going = !on_token || on_token(token, logprob);
    if (sampler.is_stop(token) || !keep_going) {
      result.finish_reason = FinishReason::stop;
      return false;
    }
    return static_cast<int64_t>(result.tokens.size()) < options.max_new_tokens;
  };
  done = !emit(sampled.front().token, sampled.front().logprob);
  auto decode_start = clock::now();
  result.prefill_seconds = std::chrono::duration<double>(decode_start - prefill_start).count();

  std::vector<SampleRow> rows;
  while (!done) {
    const auto remaining = options.max_new_tokens - static_cast<int64_t>(result.tokens.size());
    const auto room = static_cast<int32_t>(std::min<int64_t>(k, remaining - 1));
    const auto propose_start = clock::now();
    std::vector<int32_t> proposed = room > 0 ? proposer.propose(sequence, room) : std::vector<int32_t>{};
    const auto verify_start = clock::now();
    if (static_cast<int32_t>(proposed.size()) > room) proposed.resize(static_cast<size_t>(room));
    const auto m = static_cast<int64_t>(proposed.size());

    // One pass over the last token and the proposals, logits at every position.
    std::vector<int32_t> pass = {sequence.back()};
    pass.insert(pass.end(), proposed.begin(), proposed.end());
    batch.clear();
    batch.add_sequence(pass, cached, kv.cache.get(), kv.block_table, false);
    for (int64_t i = 0; i < m + 1; ++i) batch.logit_rows.push_back(static_cast<int32_t>(i));
    target.forward(batch);

    // The target's distributions at each position, the proposals before it counted as generated.
    rows.clear();
    for (int64_t i = 0; i <= m; ++i) {
      rows.push_back({static_cast<int32_t>(i), spec.key, false,
                      std::vector<int32_t>(proposed.begin(), proposed.begin() + i)});
    }
    backend.distributions(target.logits(), m + 1, vocab, rows, static_cast<float*>(probabilities->raw()));
    const auto p = download_floats(backend, probabilities->raw(), static_cast<size_t>((m + 1) * vocab));
    const auto logits = download_floats(backend, target.logits(), static_cast<size_t>((m + 1) * vocab));
    const VerifiedRun run = verify_speculation(proposed, {}, p, vocab,
                                               {spec.params.seed, spec.stream, static_cast<uint64_t>(result.tokens.size())});
    if (stats) {
      stats->propose_seconds += std::chrono::duration<double>(verify_start - propose_start).count();
      stats->verify_seconds += std::chrono::duration<double>(clock::now() - verify_start).count();
      ++stats->steps;
      stats->proposed += m;
      stats->accepted += run.accepted;
    }
    // The target's KV now holds the last token and the accepted proposals.
    cached += 1 + run.accepted;
    std::vector<CommittedToken> commits;
    for (size_t i = 0; i < run.tokens.size() && !done; ++i) {
      const int32_t token = run.tokens[i];
      commits.push_back({spec.key, token});
      const std::span<const float> row(logits.data() + i * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
      done = !emit(token, raw_logprob(row, token));
    }
    backend.commit(commits);
  }
  result.decode_seconds = std::chrono::duration<double>(clock::now() - decode_start).count();
  return result;
}

}  // namespace sabre
