#include "config/sampling_params.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace sabre {

void SamplingParams::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) {
    throw std::invalid_argument(fmt::format("temperature must be a finite number >= 0, got {}", temperature));
  }
  if (!(top_p > 0 && top_p <= 1)) throw std::invalid_argument(fmt::format("top_p must be in (0, 1], got {}", top_p));
  if (top_k < 0) throw std::invalid_argument(fmt::format("top_k must be >= 0, got {}", top_k));
  if (!(min_p >= 0 && min_p <= 1)) throw std::invalid_argument(fmt::format("min_p must be in [0, 1], got {}", min_p));
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) {
    throw std::invalid_argument(fmt::format("repetition_penalty must be a finite number > 0, got {}", repetition_penalty));
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    throw std::invalid_argument(fmt::format("presence_penalty must be in [-2, 2], got {}", presence_penalty));
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    throw std::invalid_argument(fmt::format("frequency_penalty must be in [-2, 2], got {}", frequency_penalty));
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0) throw std::invalid_argument(fmt::format("logit_bias: token id must be >= 0, got {}", token));
    if (!std::isfinite(bias)) {
      throw std::invalid_argument(fmt::format("logit_bias: bias of token {} must be finite, got {}", token, bias));
    }
  }
  if (top_logprobs < 0) throw std::invalid_argument(fmt::format("top_logprobs must be >= 0, got {}", top_logprobs));
  if (min_tokens < 0) throw std::invalid_argument(fmt::format("min_tokens must be >= 0, got {}", min_tokens));
  for (int32_t token : stop_token_ids) {
    if (token < 0) throw std::invalid_argument(fmt::format("stop_token_ids: token id must be >= 0, got {}", token));
  }
}

}  // namespace sabre
