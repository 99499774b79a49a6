#include "model/tokenizer/normalizer.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "model/tokenizer/pattern.hpp"
#include "model/tokenizer/utf8.hpp"

namespace sabre {

namespace {

using namespace tokenizer_json;

// Unicode normalization forms through utf8proc.
class UnicodeNormalizer final : public Normalizer {
 public:
  UnicodeNormalizer(int options, char32_t stable_below) : options_(options), stable_below_(stable_below) {}

  void normalize(std::string& text) const override {
    if (already_stable(text)) return;
    utf8proc_uint8_t* out = nullptr;
    // An explicit length (no NULLTERM) so that embedded NUL characters are kept.
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options_));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
    if (n < 0) {
      throw std::runtime_error(fmt::format("Unicode normalization failed: {}", utf8proc_errmsg(n)));
    }
    text.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  }

 private:
  // Text whose code points are all below the first one that any decomposition or composition touches
  // is left unchanged by the form; checking that is much cheaper than normalizing.
  bool already_stable(const std::string& text) const {
    size_t pos = 0;
    while (pos < text.size()) {
      if (static_cast<unsigned char>(text[pos]) < 0x80) {
        ++pos;
        continue;
      }
      if (utf8::decode_at(text, pos) >= stable_below_) return false;
    }
    return true;
  }

  int options_;
  char32_t stable_below_;
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
      utf8::append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
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
  // The first code point each form can change: U+00A0 for compatibility forms (NBSP -> space),
  // U+00C0 for canonical decomposition (À), U+0300 for composition (combining marks compose onto a
  // preceding base; nothing below U+0300 composes without one).
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE, 0x300);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, 0xC0);
  if (type == "NFKC") {
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, 0xA0);
  }
  if (type == "NFKD") {
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, 0xA0);
  }
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
