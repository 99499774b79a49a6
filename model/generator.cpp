#include "model/generator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace sabre {
namespace {

// Sampler keys for single-sequence callers, far above the engine's sequence ids (which count from 1), so
// that generate() can share a backend with an engine.
uint64_t next_sampler_key() {
  static std::atomic<uint64_t> next{uint64_t{1} << 62};
  return next++;
}

}  // namespace

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
  SamplerSpec spec{next_sampler_key(), options.sampling, std::vector<int32_t>(prompt.begin(), prompt.end()),
                   options.ignore_eos ? std::vector<int32_t>{} : options.eos_token_ids, 0};
  const auto is_stop = [&](int32_t token) {
    return std::count(spec.params.stop_token_ids.begin(), spec.params.stop_token_ids.end(), token) != 0 ||
           std::count(spec.eos_token_ids.begin(), spec.eos_token_ids.end(), token) != 0;
  };
  Backend& backend = model.backend();
  backend.add_samplers(std::span(&spec, 1));
  // Released however generation ends.
  struct Release {
    Backend& backend;
    uint64_t key;
    ~Release() { backend.release_samplers(std::span(&key, 1)); }
  } release{backend, spec.key};
  GenerationResult result;
  result.prompt_tokens = prompt_length;
  if (options.max_new_tokens == 0) return result;
  result.tokens.reserve(static_cast<size_t>(options.max_new_tokens));
  result.logprobs.reserve(static_cast<size_t>(options.max_new_tokens));

  // A pool of its own with an identity block table: one sequence needs no block manager.
  const SequenceKv kv = model.create_sequence_kv(
      prompt_length + options.max_new_tokens, 16,
      kv_element_type(options.kv_cache_dtype, model.backend().activation_type()));
  const SampleRow row{0, spec.key, true, {}};
  std::vector<SampledToken> sampled;
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
    model.forward(batch);
  }
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
    if (is_stop(next.token) || !keep_going) {
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
