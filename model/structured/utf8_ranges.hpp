#pragma once
// Characters as bytes: the grammar matches UTF-8 bytes, so a set of code points (a regular expression's
// class, JSON's "any character but a quote or a backslash") becomes the alternatives of byte-range
// sequences that encode exactly those code points, and nothing else (no overlong forms, no surrogates).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/structured/grammar.hpp"

namespace sabre::structured {

// Inclusive code point ranges.
using CodepointRanges = std::vector<std::pair<uint32_t, uint32_t>>;

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// Sorted, merged, clipped to [0, 0x10FFFF] and without the surrogates U+D800..U+DFFF.
CodepointRanges normalized(CodepointRanges ranges);
// Every scalar value not in `ranges`.
CodepointRanges complement(const CodepointRanges& ranges);
// One UTF-8 encoded character whose code point is in `ranges` (an empty set matches nothing).
Expr utf8_class(const CodepointRanges& ranges);
// The UTF-8 character at text[at], moving `at` past it; nullopt (at unchanged) for invalid UTF-8. What the
// regex and GBNF parsers read their source with.
std::optional<uint32_t> decode_utf8(std::string_view text, size_t& at);
// The value of `digits` hexadecimal digits at text[at], moving `at` past them; nullopt when they are not.
std::optional<uint32_t> decode_hex(std::string_view text, size_t& at, size_t digits);

// The UTF-8 encoding of one code point (throws GrammarError for a surrogate or one past U+10FFFF).
std::string utf8_encode(uint32_t codepoint);

}  // namespace sabre::structured
