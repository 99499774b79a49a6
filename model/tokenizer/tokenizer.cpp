#include "model/tokenizer/tokenizer.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/tokenizer/added_vocabulary.hpp"
#include "model/tokenizer/bpe_model.hpp"
#include "model/tokenizer/decoder.hpp"
#include "model/tokenizer/normalizer.hpp"
#include "model/tokenizer/post_processor.hpp"
#include "model/tokenizer/pre_tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"
#include "config/text/read_file.hpp"

namespace sabre {

using namespace tokenizer_json;

struct Tokenizer::Impl {
  std::string origin;
  std::unique_ptr<Normalizer> normalizer;      // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null: the whole text is one word
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;  // may be null
  std::unique_ptr<Decoder> decoder;               // may be null: tokens are joined with spaces
  AddedVocabulary added;
  size_t vocab_size = 0;
  const Pcre2Regex* byte_level_split = nullptr;  // see PreTokenizer::byte_level_split_regex

  // Normalizes, pre-tokenizes and encodes a stretch of text that holds no added token.
  void encode_plain(std::string_view text, bool starts_text, std::vector<TokenId>& ids) const {
    if (byte_level_split) {
      // Same pieces as the generic path below (matches and the gaps between them), without copies.
      thread_local std::vector<std::pair<size_t, size_t>> matches;
      matches.clear();
      byte_level_split->find_all(text, matches);
      size_t last = 0;
      for (auto [begin, end] : matches) {
        if (begin > last) model->encode_raw_byte_level_word(text.substr(last, begin - last), ids);
        model->encode_raw_byte_level_word(text.substr(begin, end - begin), ids);
        last = end;
      }
      if (last < text.size()) model->encode_raw_byte_level_word(text.substr(last), ids);
      return;
    }
    std::vector<std::string> words;
    words.emplace_back(text);
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(words, starts_text);
    for (const auto& w : words) model->encode_word(w, ids);
  }

  void encode_raw_piece(std::string_view text, bool starts_text, std::vector<TokenId>& ids) const {
    std::string normalized(text);
    if (normalizer) normalizer->normalize(normalized);
    if (normalized.empty()) return;
    if (!added.has_normalized_tokens()) {
      encode_plain(normalized, starts_text, ids);
      return;
    }
    std::vector<TextPiece> pieces;
    added.split_normalized(normalized, starts_text, pieces);
    for (const auto& p : pieces) {
      if (p.added_id) {
        ids.push_back(*p.added_id);
      } else {
        encode_plain(p.text, p.starts_text, ids);
      }
    }
  }
};

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  std::filesystem::path path = tokenizer_json;
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  return from_json(read_text_file(path), path.string());
}

Tokenizer Tokenizer::from_json(std::string_view json_text, std::string_view origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = std::string(origin);
  const Where root{impl->origin, ""};
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json_text);
  Element doc;
  if (auto error = parser.parse(padded).get(doc)) {
    root.fail(fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  }
  auto obj = as_object(doc, root);

  for (std::string_view key : {"truncation", "padding"}) {
    if (optional_member(obj, key)) {
      spdlog::warn("{}: \"{}\" is set but ignored: Sabre never truncates or pads prompts", origin, key);
    }
  }
  if (auto e = optional_member(obj, "normalizer")) impl->normalizer = make_normalizer(*e, root / "normalizer");
  if (auto e = optional_member(obj, "pre_tokenizer")) {
    impl->pre_tokenizer = make_pre_tokenizer(*e, root / "pre_tokenizer");
    impl->byte_level_split = impl->pre_tokenizer->byte_level_split_regex();
  }
  impl->model = BpeModel::from_json(member(obj, "model", root), root / "model");
  if (auto e = optional_member(obj, "post_processor")) {
    impl->post_processor = make_post_processor(*e, root / "post_processor");
  }
  if (auto e = optional_member(obj, "decoder")) impl->decoder = make_decoder(*e, root / "decoder");
  if (auto e = optional_member(obj, "added_tokens")) {
    impl->added.load(as_array(*e, root / "added_tokens"), root / "added_tokens", impl->normalizer.get());
  }
  // Like `tokenizers`' get_vocab_size(with_added_tokens=True): distinct ids of the model and added tokens.
  impl->vocab_size = impl->model->vocab_size();
  for (const auto& t : impl->added.tokens()) {
    if (!impl->model->id_to_token(t.id)) ++impl->vocab_size;
  }
  spdlog::debug("{}: loaded tokenizer, {} tokens ({} added)", origin, impl->vocab_size, impl->added.tokens().size());
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  // Input that is not valid UTF-8 is repaired the way a Python caller's bytes.decode(errors="replace")
  // would, so that every later step can assume valid UTF-8.
  std::string repaired;
  if (!utf8::is_valid(text)) {
    repaired = utf8::to_valid_lossy(text);
    text = repaired;
  }
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<TextPiece> pieces;
  impl_->added.split_raw(text, true, pieces);
  for (const auto& p : pieces) {
    if (p.added_id) {
      ids.push_back(*p.added_id);
    } else {
      impl_->encode_raw_piece(p.text, p.starts_text, ids);
    }
  }
  if (add_special_tokens && impl_->post_processor) impl_->post_processor->process(ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    if (const AddedToken* added = impl_->added.by_id(id)) {
      if (skip_special_tokens && added->special) continue;
      tokens.push_back(added->text);
    } else if (const std::string* token = impl_->model->id_to_token(id)) {
      tokens.push_back(*token);
    }
    // Ids outside the vocabulary are dropped, as `tokenizers` does.
  }
  if (!impl_->decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) joined.push_back(' ');
      joined.append(tokens[i]);
    }
    return joined;
  }
  impl_->decoder->decode_chain(tokens);
  std::string text;
  for (const auto& t : tokens) text.append(t);
  return text;
}

size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.by_content(token)) return id;
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* added = impl_->added.by_id(id)) return added->text;
  if (const std::string* token = impl_->model->id_to_token(id)) return *token;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::token_bytes(TokenId id) const {
  std::string token;
  if (const AddedToken* added = impl_->added.by_id(id)) {
    if (added->special) return std::nullopt;
    return added->text;  // added tokens are matched and written as their text
  }
  if (const std::string* piece = impl_->model->id_to_token(id)) {
    token = *piece;
  } else {
    return std::nullopt;
  }
  if (impl_->decoder) impl_->decoder->token_bytes(token);
  return token;
}

bool Tokenizer::is_special(TokenId id) const {
  const AddedToken* added = impl_->added.by_id(id);
  return added && added->special;
}

}  // namespace sabre
