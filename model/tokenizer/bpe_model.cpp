#include "model/tokenizer/bpe_model.hpp"

// Header-only use: sabre_tokenizer does not link libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

#include "model/tokenizer/byte_level.hpp"
#include "model/tokenizer/utf8.hpp"

namespace sabre {

using namespace tokenizer_json;

size_t StringHash::operator()(std::string_view s) const noexcept { return XXH3_64bits(s.data(), s.size()); }

namespace {

// Merges in tokenizer.json are either "a b" strings (older files) or ["a", "b"] pairs.
std::pair<std::string_view, std::string_view> merge_parts(Element e, const Where& where) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) {
    const size_t space = s.find(' ');
    if (space == std::string_view::npos || s.find(' ', space + 1) != std::string_view::npos) {
      where.fail(fmt::format("merge \"{}\" is not two tokens separated by one space", s));
    }
    return {s.substr(0, space), s.substr(space + 1)};
  }
  auto arr = as_array(e, where);
  if (arr.size() != 2) where.fail("a merge pair must have exactly two tokens");
  return {as_string(arr.at(0).value(), where[0]), as_string(arr.at(1).value(), where[1])};
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(Element e, const Where& where) {
  auto obj = as_object(e, where);
  if (auto type = optional_string_member(obj, "type", where); type && *type != "BPE") {
    where.fail(fmt::format("unsupported model type \"{}\" (only BPE is supported)", *type));
  }
  if (auto dropout = optional_member(obj, "dropout")) {
    double d = 0;
    if (dropout->get(d) != simdjson::SUCCESS || d != 0.0) {
      (where / "dropout").fail("BPE dropout is not supported (must be null or 0)");
    }
  }
  std::unique_ptr<BpeModel> m(new BpeModel());
  m->continuing_subword_prefix_ = optional_string_member(obj, "continuing_subword_prefix", where).value_or("");
  m->end_of_word_suffix_ = optional_string_member(obj, "end_of_word_suffix", where).value_or("");
  m->fuse_unk_ = bool_member_or(obj, "fuse_unk", false, where);
  m->byte_fallback_ = bool_member_or(obj, "byte_fallback", false, where);
  m->ignore_merges_ = bool_member_or(obj, "ignore_merges", false, where);

  const auto vocab_where = where / "vocab";
  auto vocab = as_object(member(obj, "vocab", where), vocab_where);
  m->vocab_.reserve(vocab.size());
  TokenId max_id = -1;
  for (auto [key, value] : vocab) {
    const int64_t id = as_int(value, vocab_where / key);
    if (id < 0 || id > INT32_MAX) (vocab_where / key).fail(fmt::format("token id {} is out of range", id));
    m->vocab_.emplace(std::string(key), static_cast<TokenId>(id));
    max_id = std::max(max_id, static_cast<TokenId>(id));
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->id_present_.resize(static_cast<size_t>(max_id + 1), false);
  m->ascii_ids_.fill(-1);
  for (const auto& [token, id] : m->vocab_) {
    m->id_to_token_[id] = token;
    m->id_present_[id] = true;
    size_t pos = 0;
    if (!token.empty() && utf8::is_valid(token)) {
      const char32_t cp = utf8::decode_at(token, pos);
      if (pos == token.size()) {
        m->single_char_ids_.emplace(cp, id);
        if (cp < 128) m->ascii_ids_[cp] = id;
      }
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = m->vocab_.find(fmt::format("<0x{:02X}>", b));
    m->byte_fallback_ids_[b] = it == m->vocab_.end() ? -1 : it->second;
  }
  if (auto unk = optional_string_member(obj, "unk_token", where)) {
    auto it = m->vocab_.find(*unk);
    if (it == m->vocab_.end()) (where / "unk_token").fail(fmt::format("unk_token \"{}\" is not in the vocabulary", *unk));
    m->unk_id_ = it->second;
  }

  constexpr std::string_view kMarker = "\xE2\x96\x81";  // U+2581
  m->split_before_marker_ = m->continuing_subword_prefix_.empty() && m->end_of_word_suffix_.empty() &&
                            !m->ignore_merges_ && m->vocab_.count(kMarker) != 0;
  for (const auto& [token, id] : m->vocab_) {
    if (!m->split_before_marker_) break;
    // Look for the marker preceded by some other character.
    for (size_t pos = token.find(kMarker, 1); pos != std::string::npos; pos = token.find(kMarker, pos + 1)) {
      if (pos < kMarker.size() || token.compare(pos - kMarker.size(), kMarker.size(), kMarker) != 0) {
        m->split_before_marker_ = false;
        break;
      }
    }
  }

  const auto merges_where = where / "merges";
  auto merges = as_array(member(obj, "merges", where), merges_where);
  m->merges_ = MergeTable(merges.size());
  uint32_t rank = 0;
  std::string merged;
  for (auto merge : merges) {
    const auto here = merges_where[rank];
    auto [left, right] = merge_parts(merge, here);
    auto l = m->vocab_.find(left);
    auto r = m->vocab_.find(right);
    if (l == m->vocab_.end() || r == m->vocab_.end()) {
      here.fail(fmt::format("merge \"{} {}\" uses a token missing from the vocabulary", left, right));
    }
    // With a continuing-subword prefix the right part carries it, the merged token does not repeat it.
    std::string_view right_body = right;
    if (!m->continuing_subword_prefix_.empty() && right_body.starts_with(m->continuing_subword_prefix_)) {
      right_body.remove_prefix(m->continuing_subword_prefix_.size());
    }
    merged.assign(left).append(right_body);
    auto target = m->vocab_.find(merged);
    if (target == m->vocab_.end()) {
      here.fail(fmt::format("merge \"{} {}\" produces \"{}\", which is missing from the vocabulary", left, right, merged));
    }
    // A pair listed twice keeps its last rank, as `tokenizers` builds its map.
    m->merges_.set(l->second, r->second, MergeTarget{rank, target->second});
    ++rank;
  }
  return m;
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !id_present_[id]) return nullptr;
  return &id_to_token_[id];
}

const BpeModel::MergeTarget* BpeModel::find_merge(TokenId left, TokenId right) const {
  return merges_.get(left, right);
}

std::optional<TokenId> BpeModel::symbol_id(std::string_view piece, bool first, bool last) const {
  if (continuing_subword_prefix_.empty() && end_of_word_suffix_.empty()) {
    if (piece.size() == 1 && static_cast<unsigned char>(piece[0]) < 128) {
      const TokenId id = ascii_ids_[static_cast<unsigned char>(piece[0])];
      return id >= 0 ? std::optional<TokenId>(id) : std::nullopt;
    }
    size_t pos = 0;
    auto it = single_char_ids_.find(utf8::decode_at(piece, pos));
    return it == single_char_ids_.end() ? std::nullopt : std::optional<TokenId>(it->second);
  }
  std::string decorated;
  if (!first) decorated.append(continuing_subword_prefix_);
  decorated.append(piece);
  if (last) decorated.append(end_of_word_suffix_);
  return token_to_id(decorated);
}

void BpeModel::split_into_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  // A pending unknown token: fused runs of unknown characters become one, as `tokenizers` does.
  bool has_unk = false;
  TokenId unk_id = 0;
  uint32_t unk_len = 0;
  auto add = [&](TokenId id, uint32_t len) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, index + 1, len, UINT32_MAX, -1});
  };
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t len = std::min(utf8::sequence_length_from_lead(static_cast<unsigned char>(word[pos])), word.size() - pos);
    const std::string_view piece = word.substr(pos, len);
    const bool first = pos == 0;
    pos += len;
    if (auto id = symbol_id(piece, first, pos == word.size())) {
      if (has_unk) {
        add(unk_id, unk_len);
        has_unk = false;
      }
      add(*id, static_cast<uint32_t>(len));
      continue;
    }
    if (byte_fallback_) {
      bool all_found = true;
      for (unsigned char b : piece) all_found = all_found && byte_fallback_ids_[b] >= 0;
      if (all_found) {
        // Like `tokenizers`, a pending unknown token is not flushed first.
        for (unsigned char b : piece) add(byte_fallback_ids_[b], 1);
        continue;
      }
    }
    if (unk_id_) {
      if (has_unk && fuse_unk_) {
        unk_len += static_cast<uint32_t>(len);
      } else {
        if (has_unk) add(unk_id, unk_len);
        has_unk = true;
        unk_id = *unk_id_;
        unk_len = static_cast<uint32_t>(len);
      }
    }
    // Without an unk token an unknown character is dropped, as in `tokenizers`.
  }
  if (has_unk) add(unk_id, unk_len);
  if (!symbols.empty()) symbols.back().next = -1;
}

void BpeModel::merge_symbols(std::vector<Symbol>& symbols) const {
  // Repeatedly merge the adjacent pair with the lowest merge rank, leftmost first. Short words (the
  // vast majority) scan linearly; long ones use a heap keyed by (rank, position), as `tokenizers` does.
  const size_t n = symbols.size();
  if (n < 2) return;
  if (n <= 24) {
    // Each symbol remembers the merge it forms with its right neighbour, so a merge costs two
    // lookups (the new pairs on either side) and finding the best pair is a scan of cached ranks.
    auto refresh_pair = [&](int32_t i) {
      auto& s = symbols[i];
      const auto* m = s.next == -1 ? nullptr : find_merge(s.id, symbols[s.next].id);
      s.pair_rank = m ? m->rank : UINT32_MAX;
      s.pair_new_id = m ? m->new_id : -1;
    };
    for (int32_t i = 0; i < static_cast<int32_t>(n); ++i) refresh_pair(i);
    while (true) {
      int32_t best_pos = -1;
      uint32_t best_rank = UINT32_MAX;
      for (int32_t i = 0; i != -1; i = symbols[i].next) {
        if (symbols[i].pair_rank < best_rank) {  // strict: the leftmost of equal ranks wins
          best_rank = symbols[i].pair_rank;
          best_pos = i;
        }
      }
      if (best_pos < 0) break;
      auto& left = symbols[best_pos];
      auto& right = symbols[left.next];
      left.id = left.pair_new_id;
      left.byte_len += right.byte_len;
      right.byte_len = 0;
      left.next = right.next;
      if (left.next != -1) symbols[left.next].prev = best_pos;
      refresh_pair(best_pos);
      if (left.prev != -1) refresh_pair(left.prev);
    }
    return;
  }
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    TokenId new_id;
  };
  // std heap is a max-heap: "less" means a worse candidate (higher rank, then further right).
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  thread_local std::vector<Candidate> heap;
  heap.clear();
  auto push_pair = [&](int32_t pos) {
    const auto& s = symbols[pos];
    if (s.next == -1) return;
    if (const auto* m = find_merge(s.id, symbols[s.next].id)) {
      heap.push_back({m->rank, pos, m->new_id});
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(n); ++i) push_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Candidate top = heap.back();
    heap.pop_back();
    auto& left = symbols[top.pos];
    if (left.byte_len == 0 || left.next == -1) continue;
    // Skip entries made stale by an earlier merge that changed either side of the pair.
    const auto* current = find_merge(left.id, symbols[left.next].id);
    if (!current || current->new_id != top.new_id) continue;
    auto& right = symbols[left.next];
    left.id = top.new_id;
    left.byte_len += right.byte_len;
    right.byte_len = 0;
    left.next = right.next;
    if (left.next != -1) symbols[left.next].prev = top.pos;
    if (left.prev != -1) push_pair(left.prev);
    push_pair(top.pos);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (split_before_marker_) {
    constexpr std::string_view kMarker = "\xE2\x96\x81";
    size_t begin = 0;
    size_t pos = word.find(kMarker, 1);
    while (pos != std::string_view::npos) {
      // Cut before a marker that follows a character other than the marker itself.
      if (pos < kMarker.size() || word.compare(pos - kMarker.size(), kMarker.size(), kMarker) != 0) {
        encode_piece(word.substr(begin, pos - begin), out);
        begin = pos;
      }
      pos = word.find(kMarker, pos + kMarker.size());
    }
    encode_piece(word.substr(begin), out);
    return;
  }
  encode_piece(word, out);
}

void BpeModel::encode_piece(std::string_view word, std::vector<TokenId>& out) const {
  const bool cacheable = word.size() <= WordCache::kMaxKeyBytes;
  const uint64_t hash = cacheable ? WordCache::hash(word) : 0;
  if (cacheable && cache_.lookup(word, hash, out)) return;
  const size_t first_new = out.size();
  encode_uncached(word, out);
  if (cacheable) cache_.insert(word, hash, std::span<const TokenId>(out).subspan(first_new));
}

void BpeModel::encode_raw_byte_level_word(std::string_view raw, std::vector<TokenId>& out) const {
  if (raw.empty()) return;
  const bool cacheable = raw.size() <= WordCache::kMaxKeyBytes;
  const uint64_t hash = cacheable ? WordCache::hash(raw) : 0;
  if (cacheable && cache_.lookup(raw, hash, out)) return;
  thread_local std::string mapped;
  mapped.clear();
  byte_level::encode(raw, mapped);
  const size_t first_new = out.size();
  encode_uncached(mapped, out);
  if (cacheable) cache_.insert(raw, hash, std::span<const TokenId>(out).subspan(first_new));
}

void BpeModel::encode_uncached(std::string_view word, std::vector<TokenId>& out) const {
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  split_into_symbols(word, symbols);
  merge_symbols(symbols);
  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace sabre
