#include "model/tokenizer/added_vocabulary.hpp"

#include "model/tokenizer/normalizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace sabre {

using namespace tokenizer_json;

void LiteralMatcher::add(std::string_view pattern, size_t value) {
  if (pattern.empty()) return;
  uint32_t node = 0;
  for (unsigned char b : pattern) {
    auto it = nodes_[node].children.find(b);
    if (it == nodes_[node].children.end()) {
      nodes_.emplace_back();
      const auto child = static_cast<uint32_t>(nodes_.size() - 1);
      nodes_[node].children.emplace(b, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  // Two tokens with the same content: the first one listed wins, as in `tokenizers`.
  if (!nodes_[node].value) nodes_[node].value = value;
  first_bytes_[static_cast<unsigned char>(pattern[0])] = true;
}

std::optional<std::pair<size_t, size_t>> LiteralMatcher::longest_at(std::string_view text, size_t pos) const {
  std::optional<std::pair<size_t, size_t>> best;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = nodes_[node].children.find(static_cast<unsigned char>(text[i]));
    if (it == nodes_[node].children.end()) break;
    node = it->second;
    if (nodes_[node].value) best = std::make_pair(i + 1 - pos, *nodes_[node].value);
  }
  return best;
}

void AddedVocabulary::load(Array tokens, const Where& where, const Normalizer* normalizer) {
  size_t i = 0;
  for (auto element : tokens) {
    const auto here = where[i++];
    auto obj = as_object(element, here);
    AddedToken t;
    t.content = std::string(string_member(obj, "content", here));
    const int64_t id = as_int(member(obj, "id", here), here / "id");
    if (id < 0 || id > INT32_MAX) (here / "id").fail(fmt::format("token id {} is out of range", id));
    t.id = static_cast<TokenId>(id);
    t.special = bool_member_or(obj, "special", false, here);
    t.lstrip = bool_member_or(obj, "lstrip", false, here);
    t.rstrip = bool_member_or(obj, "rstrip", false, here);
    t.single_word = bool_member_or(obj, "single_word", false, here);
    t.normalized = bool_member_or(obj, "normalized", !t.special, here);
    const size_t index = tokens_.size();
    index_by_id_[t.id] = index;
    id_by_content_.emplace(t.content, t.id);
    t.text = t.content;
    if (t.normalized) {
      if (normalizer) normalizer->normalize(t.text);
      normalized_.add(t.text, index);
    } else {
      raw_.add(t.content, index);
    }
    tokens_.push_back(std::move(t));
  }
}

const AddedToken* AddedVocabulary::by_id(TokenId id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<TokenId> AddedVocabulary::by_content(std::string_view content) const {
  auto it = id_by_content_.find(std::string(content));
  if (it == id_by_content_.end()) return std::nullopt;
  return it->second;
}

void AddedVocabulary::split_raw(std::string_view text, bool starts_text, std::vector<TextPiece>& out) const {
  split_with(raw_, text, starts_text, out);
}

void AddedVocabulary::split_normalized(std::string_view text, bool starts_text, std::vector<TextPiece>& out) const {
  split_with(normalized_, text, starts_text, out);
}

namespace {

// The last / first code point of a text, for single_word's word-boundary test.
char32_t last_char(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8::decode_at(text, start);
}

char32_t first_char(std::string_view text) {
  size_t pos = 0;
  return utf8::decode_at(text, pos);
}

bool is_word_char(char32_t c) { return utf8::is_alphanumeric(c) || c == '_'; }

}  // namespace

void AddedVocabulary::split_with(const LiteralMatcher& matcher, std::string_view text, bool starts_text,
                                 std::vector<TextPiece>& out) const {
  size_t emitted = 0;  // text before this offset is already in `out`
  auto emit_text = [&](size_t begin, size_t end) {
    if (end > begin) out.push_back(TextPiece{text.substr(begin, end - begin), std::nullopt, starts_text && begin == 0});
  };
  if (!matcher.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      if (!matcher.can_start_with(static_cast<unsigned char>(text[pos]))) {
        ++pos;
        continue;
      }
      auto match = matcher.longest_at(text, pos);
      if (!match) {
        ++pos;
        continue;
      }
      const AddedToken& token = tokens_[match->second];
      size_t begin = pos;
      size_t end = pos + match->first;
      if (token.single_word) {
        const bool word_before = begin > 0 && is_word_char(last_char(text.substr(0, begin)));
        const bool word_after = end < text.size() && is_word_char(first_char(text.substr(end)));
        if (word_before || word_after) {
          pos = end;  // `tokenizers`' matcher resumes after a rejected match, not inside it
          continue;
        }
      }
      if (token.lstrip) {
        // Swallow whitespace to the left, but never text already emitted.
        while (begin > emitted) {
          size_t start = begin - 1;
          while (start > emitted && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
          size_t p = start;
          if (!utf8::is_whitespace(utf8::decode_at(text, p))) break;
          begin = start;
        }
      }
      if (token.rstrip) {
        while (end < text.size()) {
          size_t p = end;
          if (!utf8::is_whitespace(utf8::decode_at(text, p))) break;
          end = p;
        }
      }
      emit_text(emitted, begin);
      out.push_back(TextPiece{text.substr(begin, end - begin), token.id, starts_text && begin == 0});
      emitted = end;
      pos = end;
    }
  }
  emit_text(emitted, text.size());
}

}  // namespace sabre
