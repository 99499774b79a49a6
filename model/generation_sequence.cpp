#include "model/generation_sequence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace sabre {
namespace {

uint64_t next_sampler_key() {
  static std::atomic<uint64_t> next{uint64_t{1} << 62};
  return next++;
}

}  // namespace

void check_generation(const Transformer& model, std::span<const int32_t> prompt, const GenerationOptions& options) {
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt has no tokens");
  if (options.max_new_tokens < 0) throw std::invalid_argument("generate: max_new_tokens must be >= 0");
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  const int64_t context = model.config().max_position_embeddings;
  if (prompt_length + options.max_new_tokens > context) {
    throw std::invalid_argument(fmt::format("generate: {} prompt tokens + {} new tokens exceed the model's context "
                                            "of {} positions",
                                            prompt_length, options.max_new_tokens, context));
  }
}

SequenceSampler::SequenceSampler(Backend& backend, std::span<const int32_t> prompt, const GenerationOptions& options)
    : backend_(backend),
      spec_{next_sampler_key(), options.sampling, std::vector<int32_t>(prompt.begin(), prompt.end()),
            options.ignore_eos ? std::vector<int32_t>{} : options.eos_token_ids, 0} {
  backend_.add_samplers(std::span(&spec_, 1));
}

SequenceSampler::~SequenceSampler() {
  const uint64_t key = spec_.key;
  backend_.release_samplers(std::span(&key, 1));
}

bool SequenceSampler::is_stop(int32_t token) const {
  return std::count(spec_.params.stop_token_ids.begin(), spec_.params.stop_token_ids.end(), token) != 0 ||
         std::count(spec_.eos_token_ids.begin(), spec_.eos_token_ids.end(), token) != 0;
}

void prefill_prompt(Transformer& model, std::span<const int32_t> prompt, const SequenceKv& kv, ForwardBatch& batch) {
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  const int64_t chunk = model.limits().max_tokens;
  for (int64_t start = 0; start < prompt_length; start += chunk) {
    const int64_t n = std::min(chunk, prompt_length - start);
    batch.clear();
    batch.add_sequence(prompt.subspan(static_cast<size_t>(start), static_cast<size_t>(n)), start, kv.cache.get(),
                       kv.block_table, start + n == prompt_length);
    model.forward(batch);
  }
}

}  // namespace sabre
