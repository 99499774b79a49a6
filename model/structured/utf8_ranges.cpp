#include "model/structured/utf8_ranges.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sabre::structured {
namespace {

constexpr uint32_t kSurrogateFirst = 0xD800;
constexpr uint32_t kSurrogateLast = 0xDFFF;

int encoded_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
uint32_t max_of_length(int n) { return n == 1 ? 0x7F : n == 2 ? 0x7FF : n == 3 ? 0xFFFF : kMaxCodepoint; }

std::vector<uint8_t> encode_bytes(uint32_t cp, int n) {
  std::vector<uint8_t> out(static_cast<size_t>(n));
  if (n == 1) {
    out[0] = static_cast<uint8_t>(cp);
    return out;
  }
  for (int i = n - 1; i > 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  const uint8_t lead = n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0;
  out[0] = static_cast<uint8_t>(lead | cp);
  return out;
}

// Splits [lo, hi] (all of one encoded length n) until every piece's encodings are the cartesian product
// of per-byte ranges, then emits each piece as a sequence of byte sets.
void split(uint32_t lo, uint32_t hi, int n, std::vector<Expr>& out) {
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (uint32_t{1} << (6 * i)) - 1;  // the low i continuation bytes
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split(lo, lo | m, n, out);
        split((lo | m) + 1, hi, n, out);
        return;
      }
      if ((hi & m) != m) {
        split(lo, (hi & ~m) - 1, n, out);
        split(hi & ~m, hi, n, out);
        return;
      }
    }
  }
  const auto a = encode_bytes(lo, n);
  const auto b = encode_bytes(hi, n);
  std::vector<Expr> bytes;
  for (int i = 0; i < n; ++i) {
    bytes.push_back(Expr::byte_set(ByteSet::range(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)])));
  }
  out.push_back(Expr::seq(std::move(bytes)));
}

}  // namespace

CodepointRanges normalized(CodepointRanges ranges) {
  CodepointRanges clipped;
  for (auto [lo, hi] : ranges) {
    hi = std::min(hi, kMaxCodepoint);
    if (lo > hi) continue;
    // Cut the surrogates out.
    if (lo < kSurrogateFirst && hi >= kSurrogateFirst) {
      clipped.emplace_back(lo, kSurrogateFirst - 1);
      if (hi > kSurrogateLast) clipped.emplace_back(kSurrogateLast + 1, hi);
    } else if (lo >= kSurrogateFirst && lo <= kSurrogateLast) {
      if (hi > kSurrogateLast) clipped.emplace_back(kSurrogateLast + 1, hi);
    } else {
      clipped.emplace_back(lo, hi);
    }
  }
  std::sort(clipped.begin(), clipped.end());
  CodepointRanges merged;
  for (const auto& r : clipped) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

CodepointRanges complement(const CodepointRanges& ranges) {
  CodepointRanges out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : normalized(ranges)) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodepoint) out.emplace_back(next, kMaxCodepoint);
  return normalized(std::move(out));
}

Expr utf8_class(const CodepointRanges& ranges) {
  std::vector<Expr> alternatives;
  ByteSet ascii;  // one-byte characters share one set
  for (auto [lo, hi] : normalized(ranges)) {
    while (lo <= hi) {
      const int n = encoded_length(lo);
      const uint32_t end = std::min(hi, max_of_length(n));
      if (n == 1) {
        ascii.add_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(end));
      } else {
        split(lo, end, n, alternatives);
      }
      if (end == hi) break;
      lo = end + 1;
    }
  }
  if (!ascii.empty()) alternatives.insert(alternatives.begin(), Expr::byte_set(ascii));
  if (alternatives.empty()) return Expr::any_of({Expr::byte_set(ByteSet{})});  // matches nothing
  return Expr::any_of(std::move(alternatives));
}

std::optional<uint32_t> decode_utf8(std::string_view text, size_t& at) {
  if (at >= text.size()) return std::nullopt;
  const auto b0 = static_cast<uint8_t>(text[at]);
  const int n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || at + static_cast<size_t>(n) > text.size()) return std::nullopt;
  uint32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<uint8_t>(text[at + static_cast<size_t>(k)]);
    if ((b >> 6) != 0x2) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  at += static_cast<size_t>(n);
  return cp;
}

std::optional<uint32_t> decode_hex(std::string_view text, size_t& at, size_t digits) {
  if (at + digits > text.size()) return std::nullopt;
  uint32_t value = 0;
  for (size_t k = 0; k < digits; ++k) {
    const char h = text[at + k];
    const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    value = value * 16 + static_cast<uint32_t>(d);
  }
  at += digits;
  return value;
}

std::string utf8_encode(uint32_t cp) {
  if (cp > kMaxCodepoint || (cp >= kSurrogateFirst && cp <= kSurrogateLast)) {
    throw GrammarError(fmt::format("U+{:04X} is not a Unicode scalar value", cp));
  }
  const auto bytes = encode_bytes(cp, encoded_length(cp));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace sabre::structured
