#include "model/tokenizer/pcre2_regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

#include <fmt/format.h>

namespace sabre {

namespace {

// Unicode White_Space, as class items (no brackets) so they can go inside an existing class.
constexpr std::string_view kWhiteSpaceItems =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

// Oniguruma's Unicode \w: Letter, Mark, Decimal_Number, Connector_Punctuation (PCRE2 10.42's lacks Mark).
constexpr std::string_view kWordItems = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

struct MatchDataDeleter {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

}  // namespace

struct Pcre2Regex::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

Pcre2Regex::Pcre2Regex(std::string_view pattern, std::string_view origin)
    : pattern_(pattern), compiled_(std::make_unique<Compiled>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error_code, &error_offset,
                                  nullptr);
  if (!compiled_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw std::runtime_error(fmt::format("{}: regex /{}/ does not compile at offset {}: {}", origin, pattern_,
                                         error_offset, reinterpret_cast<const char*>(message)));
  }
  // JIT is an optimisation only: without it (e.g. a platform PCRE2 built without JIT) matching still works.
  compiled_->jit = pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) == 0;
}

Pcre2Regex::Pcre2Regex(Pcre2Regex&&) noexcept = default;
Pcre2Regex& Pcre2Regex::operator=(Pcre2Regex&&) noexcept = default;
Pcre2Regex::~Pcre2Regex() = default;

void Pcre2Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  // One match block per thread, reused: creating one per call costs an allocation on a hot path.
  thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data{pcre2_match_data_create(16, nullptr)};
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    // The text was validated as UTF-8 once, up front; skip PCRE2's own check on every call.
    const int rc = compiled_->jit
                       ? pcre2_jit_match(compiled_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                                         match_data.get(), nullptr)
                       : pcre2_match(compiled_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                                     match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw std::runtime_error(fmt::format("regex /{}/ failed at byte {}: {}", pattern_, offset,
                                           reinterpret_cast<const char*>(message)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    const size_t begin = ovector[0];
    size_t end = ovector[1];
    if (end == begin) {
      // An empty match: step over one whole character, as Rust's and Oniguruma's iterators do.
      end = begin + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      offset = end;
      continue;
    }
    out.emplace_back(begin, end);
    offset = end;
  }
}

std::string translate_onig_pattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      if (next == 's') {
        if (in_class) {
          out.append(kWhiteSpaceItems);
        } else {
          out.append("[").append(kWhiteSpaceItems).append("]");
        }
        ++i;
        continue;
      }
      if (next == 'S' && !in_class) {
        out.append("[^").append(kWhiteSpaceItems).append("]");
        ++i;
        continue;
      }
      if (next == 'w') {
        if (in_class) {
          out.append(kWordItems);
        } else {
          out.append("[").append(kWordItems).append("]");
        }
        ++i;
        continue;
      }
      if (next == 'W' && !in_class) {
        out.append("[^").append(kWordItems).append("]");
        ++i;
        continue;
      }
      out.push_back(c);
      out.push_back(next);
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace sabre
