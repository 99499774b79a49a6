#pragma once
// Bounds on what one render may do. Python's jinja2 has none, but a template comes from a model's files
// or --chat-template and renders for every request: one that loops for ever, recurses without end or
// doubles a string each iteration must fail with a TemplateError, not take the server down. Real chat
// templates stay orders of magnitude below each bound.

#include <cstddef>
#include <cstdint>
#include <string>

#include "model/chat/error.hpp"

namespace sabre::chat {

inline constexpr size_t kMaxValueSize = size_t{64} << 20;  // bytes of a string or output
// Items of a list built by repetition or concatenation. Far below kMaxValueSize: each item is a Value of
// several pointers, and a list of millions of copies of a message is slow to build, print and free
// (fuzz_chat_template: `{{ messages * 1111110 }}` took 31 s under ASan); templates list messages and tools.
inline constexpr size_t kMaxListItems = size_t{1} << 18;
inline constexpr int64_t kMaxRenderSteps = 2'000'000;       // statements run and loop items visited
// The work of one render, in bytes: every string, list or dict that an operator, call or filter builds or
// reads (a list or dict entry counts as the size of a Value), and all text written, in every macro and
// block. The bounds on each value and on the steps do not bound their product: a 60 MB string concatenated
// in a loop of 2,000 steps took minutes, and a long list printed at each of 100 nested macro calls 10 s
// (fuzz_chat_template). Qwen3's and Llama 3.1's templates spend about 8 times the conversation's size, and
// the server takes at most 8 MiB of conversation.
inline constexpr size_t kMaxRenderWork = size_t{512} << 20;
inline constexpr int kMaxCallDepth = 100;                    // macros and caller() inside one another
inline constexpr int kMaxNesting = 100;                      // blocks, brackets and unary operators inside one another
inline constexpr size_t kMaxTagTokens = 1000;                // tokens in one {{ ... }} or {% ... %}: bounds how
                                                             // deep an operator chain's tree (and its evaluation) is

// Throws when `size` (of `what`) is over `limit` (kMaxValueSize by default).
inline void check_value_size(size_t size, const char* what, size_t limit = kMaxValueSize) {
  if (size > limit) {
    throw TemplateError(std::string(what) + " of " + std::to_string(size) + " is over the template limit of " +
                        std::to_string(limit));
  }
}

// width * 10 + digit for a format's width or precision, refused once it passes the value limit (it
// would be the size of the padded text) instead of overflowing an int.
inline int accumulate_digit(int value, char digit) {
  const int64_t next = int64_t{value} * 10 + (digit - '0');
  if (next > static_cast<int64_t>(kMaxValueSize)) {
    throw TemplateError("a format width or precision over the template limit of " + std::to_string(kMaxValueSize));
  }
  return static_cast<int>(next);
}

// A requested width (center, ljust, rjust, zfill, indent) within [0, kMaxValueSize] bytes.
inline size_t checked_width(int64_t width, const char* what) {
  if (width > static_cast<int64_t>(kMaxValueSize)) {
    throw TemplateError(std::string(what) + " width " + std::to_string(width) + " is over the template limit of " +
                        std::to_string(kMaxValueSize));
  }
  return width < 0 ? 0 : static_cast<size_t>(width);
}

}  // namespace sabre::chat
