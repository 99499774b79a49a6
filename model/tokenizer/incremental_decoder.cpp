#include "model/tokenizer/incremental_decoder.hpp"

#include "model/tokenizer/utf8.hpp"

namespace sabre {

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens,
                                       std::span<const TokenId> context)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens), ids_(context.begin(), context.end()) {
  read_ = ids_.size();
  // One token of context is enough for the leading-space rules; older ones need not be decoded again.
  prefix_ = read_ > 0 ? read_ - 1 : 0;
}

std::string IncrementalDecoder::new_text_since_read(bool final) {
  const std::span<const TokenId> all(ids_);
  const std::string before = tokenizer_->decode(all.subspan(prefix_, read_ - prefix_), skip_special_tokens_);
  const std::string after = tokenizer_->decode(all.subspan(prefix_), skip_special_tokens_);
  // Text ending in U+FFFD may be a character whose remaining bytes are still to come: wait for them.
  if (!final && after.ends_with(utf8::kReplacementChar)) return {};
  if (after.size() <= before.size() || !after.starts_with(before)) {
    if (!final) return {};
  }
  std::string out = after.size() > before.size() ? after.substr(before.size()) : std::string();
  prefix_ = read_;
  read_ = ids_.size();
  return out;
}

std::string IncrementalDecoder::push(TokenId id) {
  ids_.push_back(id);
  return new_text_since_read(false);
}

std::string IncrementalDecoder::flush() {
  if (read_ == ids_.size()) return {};
  return new_text_since_read(true);
}

}  // namespace sabre
