#include "model/tokenizer/normalizer.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "model/tokenizer/pattern.hpp"
#include "model/tokenizer/utf8.hpp"
#include "config/text/utf8_encode.hpp"

namespace sabre {

namespace {

using namespace tokenizer_json;

// Unicode normalization forms through utf8proc, applied only where the text can change: most text
// (ASCII, CJK, most letters) is already in every form, and running the whole input through utf8proc
// would dominate encode time.
class UnicodeNormalizer final : public Normalizer {
 public:
  UnicodeNormalizer(bool compose, bool compat) : compose_(compose), compat_(compat) {
    options_ = UTF8PROC_STABLE | (compose ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) | (compat ? UTF8PROC_COMPAT : 0);
  }

  void normalize(std::string& text) const override {
    // A boundary just before a code point that is not "touched" (see touched()) is stable: nothing
    // before it reorders or composes across it. So the text is cut at such boundaries and only the
    // stretches that hold a touched code point go through utf8proc.
    std::string out;
    size_t copied = 0;       // text[0, copied) is already in `out`
    size_t last_stable = 0;  // the latest stable boundary seen
    size_t pos = 0;
    bool pending = false;    // a touched code point lies in [last_stable, pos)
    while (pos < text.size()) {
      const size_t start = pos;
      if (static_cast<unsigned char>(text[pos]) < 0x80) {
        ++pos;
        if (pending) {
          flush(text, copied, last_stable, start, out);
          pending = false;
        }
        last_stable = start;
        continue;
      }
      const char32_t cp = utf8::decode_at(text, pos);
      if (touched(cp)) {
        pending = true;
        continue;
      }
      if (pending) {
        flush(text, copied, last_stable, start, out);
        pending = false;
      }
      last_stable = start;
    }
    if (pending) flush(text, copied, last_stable, text.size(), out);
    if (copied == 0) return;  // nothing was normalized
    out.append(text, copied, std::string::npos);
    text = std::move(out);
  }

 private:
  // Whether the form may change this code point or let it combine with its neighbours.
  bool touched(char32_t cp) const {
    const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    if (p->combining_class != 0) return true;
    if (p->decomp_seqindex != UINT16_MAX && (compat_ || p->decomp_type == 0)) return true;
    if (compose_) {
      // The second character of a composition pair (utf8proc flags those with 0x8000), and the Hangul
      // vowel and trailing jamo that compose algorithmically.
      if (p->comb_index != UINT16_MAX && (p->comb_index & 0x8000)) return true;
      return (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2);
    }
    return cp >= 0xAC00 && cp <= 0xD7A3;  // Hangul syllables decompose algorithmically
  }

  // Appends text[copied, begin) unchanged and text[begin, end) normalized.
  void flush(const std::string& text, size_t& copied, size_t begin, size_t end, std::string& out) const {
    if (out.empty()) out.reserve(text.size() + 16);
    out.append(text, copied, begin - copied);
    utf8proc_uint8_t* result = nullptr;
    // An explicit length (no NULLTERM) so that embedded NUL characters are kept.
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + begin),
                                            static_cast<utf8proc_ssize_t>(end - begin), &result,
                                            static_cast<utf8proc_option_t>(options_));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
    if (n < 0) throw std::runtime_error(fmt::format("Unicode normalization failed: {}", utf8proc_errmsg(n)));
    out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
    copied = end;
  }

  bool compose_;
  bool compat_;
  int options_ = 0;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
      const char32_t c = utf8::decode_at(text, pos);
      if (c == 0x130) {  // Rust lowercases 'İ' to "i̇" (two code points); utf8proc gives one.
        out.append("i\xCC\x87");
        continue;
      }
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
    text = std::move(out);
  }
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(SplitPattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = replace_all(pattern_, text, content_); }

 private:
  SplitPattern pattern_;
  std::string content_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0;
    size_t end = text.size();
    if (left_) {
      while (begin < end) {
        size_t p = begin;
        if (!utf8::is_whitespace(utf8::decode_at(text, p))) break;
        begin = p;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t p = start;
        if (!utf8::is_whitespace(utf8::decode_at(text, p))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& text) const override {
    for (const auto& p : parts_) p->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(Element e, const Where& where) {
  auto obj = as_object(e, where);
  const auto type = type_of(obj, where);
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(true, false);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(false, false);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(true, true);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(false, true);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(std::string(string_member(obj, "prepend", where)));
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(SplitPattern::from_json(member(obj, "pattern", where), where / "pattern"),
                                               std::string(string_member(obj, "content", where)));
  }
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(bool_member_or(obj, "strip_left", true, where),
                                             bool_member_or(obj, "strip_right", true, where));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    const auto list_where = where / "normalizers";
    size_t i = 0;
    for (auto child : as_array(member(obj, "normalizers", where), list_where)) {
      parts.push_back(make_normalizer(child, list_where[i++]));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  where.fail(fmt::format("unsupported normalizer type \"{}\" (supported: NFC, NFD, NFKC, NFKD, Lowercase, "
                         "Prepend, Replace, Strip, Sequence)", type));
}

}  // namespace sabre
