#include "actors/sample_stream.hpp"

namespace sabre {

SampleStream::SampleStream(const Tokenizer* tokenizer, std::span<const int32_t> prompt_tail,
                           SampleStreamOptions options)
    : options_(std::move(options)) {
  if (tokenizer != nullptr) {
    decoder_.emplace(*tokenizer, options_.skip_special_tokens, prompt_tail);
    matcher_.emplace(options_.stop, options_.include_stop_str_in_output);
  }
}

SampleChunk SampleStream::push(std::span<const SampledToken> tokens) {
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
