#include "model/chat/text_search.hpp"

#include <algorithm>

namespace sabre::chat {

namespace {

// `at(i)` is the needle's i-th byte, read forwards or backwards.
template <class At>
std::vector<uint32_t> failure_table(size_t length, At at) {
  std::vector<uint32_t> table(length, 0);
  uint32_t matched = 0;
  for (size_t i = 1; i < length; ++i) {
    while (matched > 0 && at(i) != at(matched)) matched = table[matched - 1];
    if (at(i) == at(matched)) ++matched;
    table[i] = matched;
  }
  return table;
}

}  // namespace

TextSearch::TextSearch(std::string_view needle) : needle_(needle) {
  if (short_needle()) return;
  const size_t m = needle_.size();
  forward_ = failure_table(m, [&](size_t i) { return needle_[i]; });
  backward_ = failure_table(m, [&](size_t i) { return needle_[m - 1 - i]; });
}

size_t TextSearch::find_in(std::string_view text, size_t from) const {
  if (short_needle()) return text.find(needle_, from);
  const size_t m = needle_.size();
  uint32_t matched = 0;
  for (size_t i = from; i < text.size(); ++i) {
    while (matched > 0 && text[i] != needle_[matched]) matched = forward_[matched - 1];
    if (text[i] == needle_[matched]) ++matched;
    if (matched == m) return i + 1 - m;
  }
  return npos;
}

size_t TextSearch::rfind_in(std::string_view text, size_t pos) const {
  if (short_needle()) return text.rfind(needle_, pos);
  const size_t m = needle_.size();
  if (text.size() < m) return npos;
  // An occurrence starting at or before pos ends before `end`; match the reversed needle from there back.
  const size_t end = pos >= text.size() - m ? text.size() : pos + m;
  uint32_t matched = 0;
  for (size_t k = end; k-- > 0;) {
    while (matched > 0 && text[k] != needle_[m - 1 - matched]) matched = backward_[matched - 1];
    if (text[k] == needle_[m - 1 - matched]) ++matched;
    if (matched == m) return k;
  }
  return npos;
}

}  // namespace sabre::chat
