#include "model/generator.hpp"

#include "model/generation_sequence.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace sabre {

double GenerationResult::prompt_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0.0;
}

double GenerationResult::decode_tokens_per_second() const {
  const auto decoded = static_cast<double>(tokens.size() > 1 ? tokens.size() - 1 : 0);
  return decode_seconds > 0 ? decoded / decode_seconds : 0.0;
}

GenerationResult generate(Transformer& model, std::span<const int32_t> prompt, const GenerationOptions& options,
                          const TokenCallback& on_token) {
  check_generation(model, prompt, options);
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  const SequenceSampler sampler(model.backend(), prompt, options);
  GenerationResult result;
  result.prompt_tokens = prompt_length;
  if (options.max_new_tokens == 0) return result;
  result.tokens.reserve(static_cast<size_t>(options.max_new_tokens));
  result.logprobs.reserve(static_cast<size_t>(options.max_new_tokens));

  // A pool of its own with an identity block table: one sequence needs no block manager.
  const SequenceKv kv = model.create_sequence_kv(
      prompt_length + options.max_new_tokens, 16,
      kv_element_type(options.kv_cache_dtype, model.backend().activation_type()));
  const SampleRow row{0, sampler.key(), true, {}};
  std::vector<SampledToken> sampled;
  ForwardBatch batch;
  batch.token_ids.reserve(prompt.size());
  batch.positions.reserve(prompt.size());

  using clock = std::chrono::steady_clock;
  const auto prefill_start = clock::now();
  prefill_prompt(model, prompt, kv, batch);
  int64_t cached = prompt_length;
  auto decode_start = clock::now();

  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    if (step > 0) {
      batch.clear();
      const int32_t last[] = {result.tokens.back()};
      batch.add_sequence(last, cached, kv.cache.get(), kv.block_table, true);
      model.forward(batch);
      ++cached;
    }
    model.sample(std::span(&row, 1), sampled);
    const SampledToken& next = sampled.front();
    result.tokens.push_back(next.token);
    result.logprobs.push_back(next.logprob);
    if (step == 0) {
      decode_start = clock::now();
      result.prefill_seconds = std::chrono::duration<double>(decode_start - prefill_start).count();
    }
    const bool keep_going = !on_token || on_token(next.token, next.logprob);
    if (sampler.is_stop(next.token) || !keep_going) {
      result.finish_reason = FinishReason::stop;
      break;
    }
  }
  result.decode_seconds = std::chrono::duration<double>(clock::now() - decode_start).count();
  spdlog::debug("generated {} tokens: prompt {:.1f} tok/s, decode {:.1f} tok/s", result.tokens.size(),
                result.prompt_tokens_per_second(), result.decode_tokens_per_second());
  return result;
}

}  // namespace sabre
