#pragma once
// Python str operations shared by string methods (`s.strip()`) and jinja2 filters (`s|trim`).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre::chat {

enum class StripSide { Left, Right, Both };
// str.strip/lstrip/rstrip: `chars` nullopt strips Unicode whitespace.
std::string python_strip(std::string_view text, const std::optional<std::string>& chars, StripSide side);
// str.split: `sep` nullopt splits on whitespace runs; maxsplit < 0 means no limit.
std::vector<std::string> python_split(std::string_view text, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> python_rsplit(std::string_view text, const std::optional<std::string>& sep, int64_t maxsplit);
std::string python_replace(std::string_view text, std::string_view old, std::string_view replacement, int64_t count);
// str.title and str.capitalize.
std::string python_title(std::string_view text);
std::string python_capitalize(std::string_view text);
std::vector<std::string> python_splitlines(std::string_view text, bool keepends);
// str.center/ljust/rjust with a one-character fill, counting code points.
std::string python_center(std::string_view text, int64_t width, std::string_view fill);
std::string python_ljust(std::string_view text, int64_t width, std::string_view fill);
std::string python_rjust(std::string_view text, int64_t width, std::string_view fill);

// Decimal digits as an int64; nullopt when empty, not all digits, or out of range.
std::optional<int64_t> parse_int64(std::string_view digits);

}  // namespace sabre::chat
