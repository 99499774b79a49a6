#pragma once
// Substring search in time linear in the text. std::string_view::find compares the needle at every
// position where its first byte occurs, so a long needle of repeats ('a' * 500000 ~ 'b' searched in
// 'a' * 1000000) costs the product of the two lengths: 5 s for one `in` test. A template's `in`, find,
// count, split and replace search text for needles the template itself builds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sabre::chat {

class TextSearch {
 public:
  static constexpr size_t npos = std::string_view::npos;

  explicit TextSearch(std::string_view needle);

  // As std::string_view::find(needle, from): the first occurrence starting at or after `from`.
  size_t find_in(std::string_view text, size_t from = 0) const;
  // As std::string_view::rfind(needle, pos): the last occurrence starting at or before `pos`.
  size_t rfind_in(std::string_view text, size_t pos = npos) const;

 private:
  bool short_needle() const { return needle_.size() <= kShortNeedle; }

  // Up to this length std::string_view's search is faster, and its worst case is still this many
  // comparisons per byte of text.
  static constexpr size_t kShortNeedle = 32;

  std::string needle_;
  // Knuth-Morris-Pratt failure tables of the needle and of the needle reversed (long needles only):
  // entry i is the length of the longest proper prefix of needle[0..i] that is also its suffix.
  std::vector<uint32_t> forward_;
  std::vector<uint32_t> backward_;
};

}  // namespace sabre::chat
