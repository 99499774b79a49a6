#pragma once
// Streaming detokenization: feed generated ids one at a time and get back only the text they complete.
// Never returns a broken UTF-8 sequence (bytes of a character split over several tokens are held back
// until it completes), and the pieces plus flush() add up to exactly Tokenizer::decode of all the ids.
//
// It works on any tokenizer.json decoder by decoding a short window of recent ids twice (with and
// without the newest ones) and returning the difference; the window keeps one already-emitted token as
// context so that SentencePiece's "strip the leading space of the text" applies only where a full
// decode applies it.

#include <span>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

class IncrementalDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  // `context`: ids that come before the stream (e.g. the end of the prompt). They are decoded for
  // context only, never returned, so that the first generated token keeps its leading space.
  IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens, std::span<const TokenId> context = {});

  // Adds one id; returns the text it completes (possibly empty).
  std::string push(TokenId id);
  // Returns whatever is still held back (an unfinished character comes out as U+FFFD, as in decode).
  std::string flush();

  // Every id pushed so far, context included.
  const std::vector<TokenId>& ids() const { return ids_; }

 private:
  std::string new_text_since_read(bool final);

  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::vector<TokenId> ids_;
  size_t prefix_ = 0;  // start of the decode window
  size_t read_ = 0;    // ids before this index have been returned (or are context)
};

}  // namespace sabre
