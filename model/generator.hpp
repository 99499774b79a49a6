#pragma once
// Single-sequence generation on a Transformer: the prompt's prefill (in steps of the model's step size),
// then one decode pass per token, each token sampled by the backend (a sampler registered for the
// sequence, released at the end) and generation stopped at an end-of-sequence id or the token limit. The
// offline CLI and tests use it; the engine drives Transformer::forward itself with many sequences per
// step.

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/finish_reason.hpp"
#include "kernels/sampling.hpp"
#include "model/transformer.hpp"

namespace sabre {

struct GenerationOptions {
  int64_t max_new_tokens = 128;
  SamplingParams sampling;
  std::vector<int32_t> eos_token_ids;  // any of them ends generation (and is kept in the output), as do
                                       // sampling.stop_token_ids; min_tokens masks both
  bool ignore_eos = false;
  KvCacheDtype kv_cache_dtype = KvCacheDtype::automatic;  // the sequence's own KV pool
};

struct GenerationResult {
  std::vector<int32_t> tokens;   // generated ids (an eos that stopped generation included)
  std::vector<float> logprobs;   // one per generated token
  FinishReason finish_reason = FinishReason::length;
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;    // prompt pass including the first token's sampling
  double decode_seconds = 0;     // every later step
  double prompt_tokens_per_second() const;
  double decode_tokens_per_second() const;  // tokens after the first / decode_seconds
};

// Called after each token; return false to stop early (finish reason "stop").
using TokenCallback = std::function<bool(int32_t token, float logprob)>;

// Throws std::invalid_argument for an empty prompt or one that (with max_new_tokens) does not fit the
// model's context.
GenerationResult generate(Transformer& model, std::span<const int32_t> prompt, const GenerationOptions& options,
                          const TokenCallback& on_token = {});

}  // namespace sabre
