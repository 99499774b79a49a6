#include "model/chat/string_ops.hpp"

#include <algorithm>
#include <charconv>

#include "model/chat/limits.hpp"
#include "model/chat/text_search.hpp"
#include "model/chat/utf8.hpp"

namespace sabre::chat {

std::string python_strip(std::string_view text, const std::optional<std::string>& chars, StripSide side) {
  const std::u32string s = utf8_to_u32(text);
  const std::u32string set = chars ? utf8_to_u32(*chars) : std::u32string();
  auto strip_it = [&](char32_t cp) { return chars ? set.find(cp) != std::u32string::npos : is_python_space(cp); };
  size_t begin = 0;
  size_t end = s.size();
  if (side != StripSide::Right) {
    while (begin < end && strip_it(s[begin])) ++begin;
  }
  if (side != StripSide::Left) {
    while (end > begin && strip_it(s[end - 1])) --end;
  }
  return u32_to_utf8(std::u32string_view(s).substr(begin, end - begin));
}

namespace {

std::vector<std::string> split_whitespace(std::string_view text, int64_t maxsplit, bool from_right) {
  const std::u32string s = utf8_to_u32(text);
  std::vector<std::u32string> parts;
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && is_python_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t end = s.size();
        while (end > i && is_python_space(s[end - 1])) --end;
        parts.push_back(s.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_python_space(s[j])) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
  } else {
    size_t i = s.size();
    while (true) {
      while (i > 0 && is_python_space(s[i - 1])) --i;
      if (i == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t begin = 0;
        while (begin < i && is_python_space(s[begin])) ++begin;
        parts.push_back(s.substr(begin, i - begin));
        break;
      }
      size_t j = i;
      while (j > 0 && !is_python_space(s[j - 1])) --j;
      parts.push_back(s.substr(j, i - j));
      i = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<std::string> out;
  for (const auto& p : parts) out.push_back(u32_to_utf8(p));
  return out;
}

}  // namespace

std::vector<std::string> python_split(std::string_view text, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (!sep) return split_whitespace(text, maxsplit, false);
  std::vector<std::string> out;
  const TextSearch search(*sep);
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    const size_t at = search.find_in(text, start);
    if (at == std::string_view::npos) break;
    out.emplace_back(text.substr(start, at - start));
    start = at + sep->size();
  }
  out.emplace_back(text.substr(start));
  return out;
}

std::vector<std::string> python_rsplit(std::string_view text, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (!sep) return split_whitespace(text, maxsplit, true);
  std::vector<std::string> out;
  const TextSearch search(*sep);
  size_t end = text.size();
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    if (end < sep->size()) break;
    const size_t at = search.rfind_in(text, end - sep->size());
    if (at == std::string_view::npos) break;
    out.emplace_back(text.substr(at + sep->size(), end - at - sep->size()));
    end = at;
  }
  out.emplace_back(text.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<int64_t> parse_int64(std::string_view digits) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::string python_replace(std::string_view text, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement between every character (and at both ends).
    const std::u32string s = utf8_to_u32(text);
    int64_t done = 0;
    for (char32_t cp : s) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      append_utf8(out, cp);
      check_value_size(out.size(), "a replaced string");
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  const TextSearch search(old);
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = search.find_in(text, start);
    if (at == std::string_view::npos) break;
    out += text.substr(start, at - start);
    out += replacement;
    check_value_size(out.size(), "a replaced string");
    start = at + old.size();
    ++done;
  }
  out += text.substr(start);
  return out;
}

std::string python_title(std::string_view text) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : utf8_to_u32(text)) {
    if (is_letter_cp(cp)) {
      append_utf8(out, previous_cased ? to_lower_cp(cp) : to_upper_cp(cp));
      previous_cased = true;
    } else {
      append_utf8(out, cp);
      previous_cased = false;
    }
  }
  return out;
}

std::string python_capitalize(std::string_view text) {
  std::string out;
  bool first = true;
  for (char32_t cp : utf8_to_u32(text)) {
    append_utf8(out, first ? to_upper_cp(cp) : to_lower_cp(cp));
    first = false;
  }
  return out;
}

namespace {

std::string repeat_fill(std::string_view fill, int64_t n) {
  check_value_size(checked_width(n, "a padding") * fill.size(), "padding");
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += fill;
  return out;
}

}  // namespace

std::string python_center(std::string_view text, int64_t width, std::string_view fill) {
  const auto length = static_cast<int64_t>(utf8_length(text));
  if (width <= length) return std::string(text);
  const int64_t margin = width - length;
  const int64_t left = margin / 2 + (margin & width & 1);  // CPython's rounding
  return repeat_fill(fill, left) + std::string(text) + repeat_fill(fill, margin - left);
}

std::string python_ljust(std::string_view text, int64_t width, std::string_view fill) {
  const auto length = static_cast<int64_t>(utf8_length(text));
  return std::string(text) + repeat_fill(fill, std::max<int64_t>(0, width - length));
}

std::string python_rjust(std::string_view text, int64_t width, std::string_view fill) {
  const auto length = static_cast<int64_t>(utf8_length(text));
  return repeat_fill(fill, std::max<int64_t>(0, width - length)) + std::string(text);
}

std::vector<std::string> python_splitlines(std::string_view text, bool keepends) {
  // Python breaks lines at \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029.
  const std::u32string s = utf8_to_u32(text);
  auto is_break = [](char32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 ||
           c == 0x2029;
  };
  std::vector<std::string> out;
  size_t start = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_break(s[i])) {
      ++i;
      continue;
    }
    size_t next = i + 1;
    if (s[i] == '\r' && next < s.size() && s[next] == '\n') ++next;
    out.push_back(u32_to_utf8(std::u32string_view(s).substr(start, (keepends ? next : i) - start)));
    start = i = next;
  }
  if (start < s.size()) out.push_back(u32_to_utf8(std::u32string_view(s).substr(start)));
  return out;
}

}  // namespace sabre::chat
