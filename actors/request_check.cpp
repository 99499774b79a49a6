#include "actors/request_check.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sabre {

int64_t kv_blocks_needed(int64_t prompt_len, int64_t max_tokens, int64_t n, int64_t block_size) {
  const int64_t kv_tokens = prompt_len + max_tokens - 1;
  const int64_t blocks_each = (kv_tokens + block_size - 1) / block_size;
  if (n == 1 || max_tokens == 1) return blocks_each;
  const int64_t shared = prompt_len / block_size;
  return shared + n * (blocks_each - shared);
}

namespace {

// SamplingParams::validate's messages begin with the field's name ("top_p must be ...", "logit_bias: ...").
std::string field_of(const std::string& message) {
  const size_t end = message.find_first_of(" :");
  return message.substr(0, end);
}

std::optional<RequestProblem> check_token_ids(const GenerationRequest& request, int64_t vocab) {
  for (const auto& [token, bias] : request.sampling.logit_bias) {
    if (token >= vocab) {
      return RequestProblem{"logit_bias",
                            fmt::format("'logit_bias' token id {} is outside the vocabulary (size {})", token, vocab)};
    }
  }
  for (int32_t token : request.sampling.stop_token_ids) {
    if (token >= vocab) {
      return RequestProblem{"stop_token_ids",
                            fmt::format("'stop_token_ids' token id {} is outside the vocabulary (size {})", token, vocab)};
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<RequestProblem> check_generation_request(const GenerationRequest& request,
                                                       std::span<const int32_t> prompt, const RequestLimits& limits,
                                                       const RequestFieldNames& names) {
  if (request.n < 1) return RequestProblem{"n", fmt::format("'n' must be at least 1, got {}", request.n)};
  if (request.n > limits.max_num_seqs) {
    return RequestProblem{"n", fmt::format("n = {} samples can never run together: at most {} sequences run at once "
                                           "(--max-num-seqs)",
                                           request.n, limits.max_num_seqs)};
  }
  if (request.max_tokens < 1) {
    return RequestProblem{names.max_tokens,
                          fmt::format("'{}' must be at least 1, got {}", names.max_tokens, request.max_tokens)};
  }
  try {
    request.sampling.validate();
  } catch (const std::invalid_argument& e) {
    return RequestProblem{field_of(e.what()), e.what()};
  }
  if (auto problem = check_token_ids(request, limits.vocab_size)) return problem;
  if (request.prompt_logprobs < -1 || request.prompt_logprobs > kMaxPromptLogprobs) {
    return RequestProblem{"prompt_logprobs", fmt::format("'prompt_logprobs' must be between 0 and {}, got {}",
                                                         kMaxPromptLogprobs, request.prompt_logprobs)};
  }
  if (request.sampling.min_tokens > request.max_tokens) {
    return RequestProblem{"min_tokens", fmt::format("'min_tokens' ({}) must not exceed max_tokens ({})",
                                                    request.sampling.min_tokens, request.max_tokens)};
  }
  for (const std::string& stop : request.stop) {
    if (stop.empty()) return RequestProblem{"stop", "'stop' strings must not be empty"};
  }
  if (request.sampling.guided.active()) {
    if (!limits.guided) {
      return RequestProblem{names.guided, fmt::format("'{}': guided decoding needs the model's tokenizer, and this "
                                                      "model has none", names.guided)};
    }
    try {
      limits.guided->compile(request.sampling.guided);
    } catch (const structured::GrammarError& e) {
      return RequestProblem{names.guided, fmt::format("'{}': {}", names.guided, e.what())};
    }
  }
  if (prompt.empty()) return RequestProblem{names.prompt, fmt::format("'{}' has no tokens", names.prompt)};
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= limits.vocab_size) {
      return RequestProblem{names.prompt, fmt::format("{} token {} at position {} is outside the vocabulary (size {})",
                                                      names.prompt, prompt[i], i, limits.vocab_size)};
    }
  }
  const auto prompt_tokens = static_cast<int64_t>(prompt.size());
  if (prompt_tokens >= limits.max_model_len) {
    return RequestProblem{names.prompt,
                          fmt::format("This model's maximum context length is {} tokens. However, your {} has {} "
                                      "tokens: reduce its length.",
                                      limits.max_model_len, names.prompt, prompt_tokens)};
  }
  if (prompt_tokens + request.max_tokens > limits.max_model_len) {
    return RequestProblem{
        names.max_tokens,
        fmt::format("This model's maximum context length is {} tokens. However, you requested {} tokens ({} in the "
                    "{}, {} in the completion). Reduce the length of the {} or of the completion.",
                    limits.max_model_len, prompt_tokens + request.max_tokens, prompt_tokens, names.prompt,
                    request.max_tokens, names.prompt)};
  }
  if (limits.kv_blocks > 0) {
    const int64_t needed = kv_blocks_needed(prompt_tokens, request.max_tokens, request.n, limits.kv_block_size);
    if (needed > limits.kv_blocks) {
      return RequestProblem{
          names.max_tokens,
          fmt::format("{} sample(s) of a {}-token {} with {} {} need {} KV blocks of {} tokens at once, and the whole "
                      "KV cache has {}: lower {} or n, or give the server more KV cache memory",
                      request.n, prompt_tokens, names.prompt, names.max_tokens, request.max_tokens, needed,
                      limits.kv_block_size, limits.kv_blocks, names.max_tokens)};
    }
  }
  return std::nullopt;
}

}  // namespace sabre
