#include "actors/sample_stream.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace sabre {

SampleStream::SampleStream(const Tokenizer* tokenizer, std::span<const int32_t> prompt_tail,
                           SampleStreamOptions options)
    : options_(std::move(options)) {
  if (tokenizer != nullptr) {
    decoder_.emplace(*tokenizer, options_.skip_special_tokens, prompt_tail);
    matcher_.emplace(options_.stop, options_.include_stop_str_in_output);
  }
}

namespace {

// SABRE_FAULT_INJECT_DETOKENIZE=N makes the Nth push while it is set throw, as a tokenizer failure
// would: the request actor must end only that sample (tests and scripts/soak use it). One getenv per
// push (a step's tokens for a sample) costs nothing next to the step.
void inject_detokenize_fault() {
  const char* value = std::getenv("SABRE_FAULT_INJECT_DETOKENIZE");
  if (value == nullptr) return;
  const int64_t at = std::atoll(value);
  static std::atomic<int64_t> calls{0};
  if (at > 0 && ++calls == at) {
    spdlog::warn("fault injection: detokenization {} fails (SABRE_FAULT_INJECT_DETOKENIZE)", at);
    throw std::runtime_error(fmt::format("fault injected at detokenization {} (SABRE_FAULT_INJECT_DETOKENIZE)", at));
  }
}

}  // namespace

SampleChunk SampleStream::push(std::span<const SampledToken> tokens) {
  inject_detokenize_fault();
  SampleChunk chunk;
  for (const SampledToken& token : tokens) {
    if (stopped()) break;
    ++num_tokens_;
    chunk.token_ids.push_back(token.token);
    if (options_.logprobs) chunk.logprobs.push_back(token);
    if (!decoder_) continue;
    StopMatch match = matcher_->push(decoder_->push(token.token));
    chunk.text += match.text;
    if (match.stop_index) {
      chunk.stopped = true;
      chunk.stop_reason = matcher_->stop_strings()[*match.stop_index];
    }
  }
  return chunk;
}

SampleChunk SampleStream::finish() {
  SampleChunk chunk;
  if (!decoder_ || stopped()) return chunk;
  StopMatch match = matcher_->push(decoder_->flush());
  chunk.text = match.text;
  if (match.stop_index) {
    chunk.stopped = true;
    chunk.stop_reason = matcher_->stop_strings()[*match.stop_index];
  } else {
    chunk.text += matcher_->flush();
  }
  return chunk;
}

}  // namespace sabre
