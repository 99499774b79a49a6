#pragma once
// What the request actor does with one sample's tokens before the client sees them, CAF-free: turn ids
// into text without ever emitting a broken UTF-8 character (IncrementalDecoder), hold back and cut at
// stop strings (StopMatcher), and collect the ids and log-probabilities that go with the text.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "actors/stop_matcher.hpp"
#include "kernels/sampling.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

struct SampleStreamOptions {
  bool skip_special_tokens = true;
  std::vector<std::string> stop;
  bool include_stop_str_in_output = false;
  bool logprobs = false;
};

// The part of a sample's output ready to send.
struct SampleChunk {
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<SampledToken> logprobs;  // filled when options.logprobs
  bool stopped = false;                // a stop string matched: generation of this sample is over
  std::string stop_reason;             // the stop string

  bool empty() const { return token_ids.empty() && text.empty(); }
};

class SampleStream {
 public:
  // `tokenizer` may be null (a model without tokenizer.json): then text stays empty and stop strings
  // cannot match. `prompt_tail`: the last prompt ids, decoded as context so the first token keeps its
  // leading space. The tokenizer must outlive the stream.
  SampleStream(const Tokenizer* tokenizer, std::span<const int32_t> prompt_tail, SampleStreamOptions options);

  // Adds generated tokens. Tokens after a stop string are dropped (the sample is over).
  SampleChunk push(std::span<const SampledToken> tokens);
  // At the end of generation (no stop string): the text still held back.
  SampleChunk finish();

  bool stopped() const { return matcher_ && matcher_->stopped(); }
  int64_t num_tokens() const { return num_tokens_; }  // tokens accepted so far (the stop's included)

 private:
  SampleStreamOptions options_;
  std::optional<IncrementalDecoder> decoder_;
  std::optional<StopMatcher> matcher_;
  int64_t num_tokens_ = 0;
};

}  // namespace sabre
