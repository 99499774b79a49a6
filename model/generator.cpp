#include "model/generator.hpp"

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
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt has no tokens");
  if (options.max_new_tokens < 0) throw std::invalid_argument("generate: max_new_tokens must be >= 0");
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  const int64_t context = model.config().max_position_embeddings;
  if (prompt_length + options.max_new_tokens > context) {
    throw std::invalid_argument(fmt::format("generate: {} prompt tokens + {} new tokens exceed the model's context "
                                            "of {} positions",
                                            prompt_length, options.max_new_tokens, context));
  }
  // With ignore_eos the eos ids neither end generation nor get masked by min_tokens; stop_token_ids still do.
  const std::span<const int32_t> eos_ids =
      options.ignore_eos ? std::span<const int32_t>{} : std::span<const int32_t>(options.eos_token_ids);
  Sampler sampler(options.sampling, prompt, eos_ids);
  GenerationResult result;
  result.prompt_tokens = prompt_length;
  if (options.max_new_tokens == 0) return result;
  result.tokens.reserve(static_cast<size_t>(options.max_new_tokens));
  result.logprobs.reserve(static_cast<size_t>(options.max_new_tokens));

  // A pool of its own with an identity block table: one sequence needs no block manager.
  const SequenceKv kv = model.create_sequence_kv(
      prompt_length + options.max_new_tokens, 16,
      kv_element_type(options.kv_cache_dtype, model.backend().activation_type()));
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  ForwardBatch batch;
  batch.token_ids.reserve(prompt.size());
  batch.positions.reserve(prompt.size());

  using clock = std::chrono::steady_clock;
  const auto prefill_start = clock::now();
  // A prompt longer than one step is prefilled in chunks of the step's size; the last one gives logits.
  const int64_t chunk = model.limits().max_tokens;
  for (int64_t start = 0; start < prompt_length; start += chunk) {
    const int64_t n = std::min(chunk, prompt_length - start);
    batch.clear();
    batch.add_sequence(prompt.subspan(static_cast<size_t>(start), static_cast<size_t>(n)), start, kv.cache.get(),
                       kv.block_table, start + n == prompt_length);
    if (start + n == prompt_length) {
      model.forward(batch, logits);
    } else {
      model.forward(batch);
    }
  }
  int64_t cached = prompt_length;
  auto decode_start = clock::now();

  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    if (step > 0) {
      batch.clear();
      const int32_t last[] = {result.tokens.back()};
      batch.add_sequence(last, cached, kv.cache.get(), kv.block_table, true);
      model.forward(batch, logits);
      ++cached;
    }
    const SampledToken next = sampler.sample(logits);
    result.tokens.push_back(next.token);
    result.logprobs.push_back(next.logprob);
    if (step == 0) {
      decode_start = clock::now();
      result.prefill_seconds = std::chrono::duration<double>(decode_start - prefill_start).count();
    }
    const bool keep_going = !on_token || on_token(next.token, next.logprob);
    if (sampler.is_stop_token(next.token) || !keep_going) {
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
