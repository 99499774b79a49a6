#include "model/tokenizer/pre_tokenizer.hpp"

#include <algorithm>
#include <optional>

#include "model/tokenizer/byte_level.hpp"
#include "model/tokenizer/pattern.hpp"
#include "model/tokenizer/utf8.hpp"

namespace sabre {

namespace {

using namespace tokenizer_json;

// GPT-2's word pattern, what ByteLevel uses when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The Whitespace pre-tokenizer's \w+|[^\w\s]+ with Rust's Unicode \w (Alphabetic, marks, decimal
// digits, connector punctuation, the two joiners).
constexpr std::string_view kRustWordPattern =
    R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)";

std::vector<Segment> segments_from_matches(size_t text_size, const std::vector<std::pair<size_t, size_t>>& matches,
                                           bool invert) {
  std::vector<Segment> segments;
  segments.reserve(matches.size() * 2 + 1);
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) segments.push_back({last, b, invert});
    segments.push_back({b, e, !invert});
    last = e;
  }
  if (last < text_size) segments.push_back({last, text_size, invert});
  return segments;
}

// Splits every piece with a function that lists the segments of one piece.
template <class SegmentsOf>
void split_pieces(std::vector<std::string>& pieces, SplitBehavior behavior, SegmentsOf&& segments_of) {
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (auto& piece : pieces) {
    const auto ranges = apply_split_behavior(segments_of(piece), behavior);
    if (ranges.size() == 1 && ranges[0].first == 0 && ranges[0].second == piece.size()) {
      out.push_back(std::move(piece));
      continue;
    }
    for (auto [b, e] : ranges) out.emplace_back(piece, b, e - b);
  }
  pieces = std::move(out);
}

SplitBehavior parse_behavior(std::string_view name, const Where& where) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  where.fail(fmt::format("unknown split behavior \"{}\"", name));
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    split_pieces(pieces, behavior_, [&](const std::string& piece) {
      matches.clear();
      pattern_.find_all(piece, matches);
      return segments_from_matches(piece.size(), matches, invert_);
    });
  }

  // The regex when this split keeps matches and gaps alike as pieces (Isolated, not inverted).
  const Pcre2Regex* isolating_regex() const {
    return behavior_ == SplitBehavior::Isolated && !invert_ ? pattern_.regex() : nullptr;
  }

 private:
  SplitPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, std::string_view origin)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_.emplace(translate_onig_pattern(kGpt2Pattern), origin);
  }

  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    if (add_prefix_space_) {
      for (auto& p : pieces) {
        if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
      }
    }
    if (regex_) {
      std::vector<std::pair<size_t, size_t>> matches;
      split_pieces(pieces, SplitBehavior::Isolated, [&](const std::string& piece) {
        matches.clear();
        regex_->find_all(piece, matches);
        return segments_from_matches(piece.size(), matches, false);
      });
    }
    for (auto& p : pieces) {
      std::string mapped;
      mapped.reserve(p.size() * 2);
      byte_level::encode(p, mapped);
      p = std::move(mapped);
    }
  }

  const Pcre2Regex* byte_level_split_regex() const override {
    return !add_prefix_space_ && regex_ ? &*regex_ : nullptr;
  }
  // True when this step only maps bytes (no prefix space, no splitting of its own).
  bool maps_bytes_only() const { return !add_prefix_space_ && !regex_; }

 private:
  bool add_prefix_space_;
  std::optional<Pcre2Regex> regex_;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}

  void pre_tokenize(std::vector<std::string>& pieces, bool starts_text) const override {
    const auto space = SplitPattern::literal(" ");
    for (size_t i = 0; i < pieces.size(); ++i) {
      auto& p = pieces[i];
      p = replace_all(space, p, replacement_);
      const bool prepend = scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && i == 0 && starts_text);
      if (prepend && !p.starts_with(replacement_)) p.insert(0, replacement_);
    }
    if (!split_) return;
    const auto marker = SplitPattern::literal(replacement_);
    std::vector<std::pair<size_t, size_t>> matches;
    split_pieces(pieces, SplitBehavior::MergedWithNext, [&](const std::string& piece) {
      matches.clear();
      marker.find_all(piece, matches);
      return segments_from_matches(piece.size(), matches, false);
    });
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

// Splits on characters for which `pred` holds, each one alone or in runs.
template <class Pred>
std::vector<Segment> char_class_segments(const std::string& piece, Pred pred, bool each_alone) {
  std::vector<Segment> segments;
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t begin = pos;
    const bool match = pred(utf8::decode_at(piece, pos));
    if (!each_alone || !match) {
      while (pos < piece.size()) {
        size_t next = pos;
        if (pred(utf8::decode_at(piece, next)) != match) break;
        pos = next;
      }
    }
    segments.push_back({begin, pos, match});
  }
  return segments;
}

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    split_pieces(pieces, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous,
                 [&](const std::string& piece) { return char_class_segments(piece, utf8::is_numeric, individual_); });
  }

 private:
  bool individual_;
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    split_pieces(pieces, SplitBehavior::Removed,
                 [&](const std::string& piece) { return char_class_segments(piece, utf8::is_whitespace, false); });
  }
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool starts_text) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces, starts_text);
  }

  const Pcre2Regex* byte_level_split_regex() const override {
    if (parts_.size() == 1) return parts_[0]->byte_level_split_regex();
    if (parts_.size() != 2) return nullptr;
    const auto* split = dynamic_cast<const SplitPreTokenizer*>(parts_[0].get());
    const auto* bytes = dynamic_cast<const ByteLevelPreTokenizer*>(parts_[1].get());
    return split && bytes && bytes->maps_bytes_only() ? split->isolating_regex() : nullptr;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

PrependScheme parse_prepend_scheme(Object obj, const Where& where) {
  if (auto scheme = optional_string_member(obj, "prepend_scheme", where)) {
    if (*scheme == "always") return PrependScheme::Always;
    if (*scheme == "first") return PrependScheme::First;
    if (*scheme == "never") return PrependScheme::Never;
    (where / "prepend_scheme").fail(fmt::format("unknown prepend_scheme \"{}\"", *scheme));
  }
  // Files written before prepend_scheme existed say add_prefix_space instead.
  return bool_member_or(obj, "add_prefix_space", true, where) ? PrependScheme::Always : PrependScheme::Never;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> apply_split_behavior(const std::vector<Segment>& segments,
                                                            SplitBehavior behavior) {
  std::vector<std::pair<size_t, size_t>> out;
  out.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& s : segments) {
        if (!s.is_match) out.emplace_back(s.begin, s.end);
      }
      break;
    case SplitBehavior::Isolated:
      for (const auto& s : segments) out.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::MergedWithPrevious:
      // A match joins the piece before it, unless that piece was itself a match.
      for (const auto& s : segments) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      // The mirror image: walk backwards, a match joins the piece after it.
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().first = it->begin;
        } else {
          out.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& s : segments) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
  }
  std::erase_if(out, [](const auto& r) { return r.first == r.second; });
  return out;
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(Element e, const Where& where) {
  auto obj = as_object(e, where);
  const auto type = type_of(obj, where);
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(SplitPattern::from_json(member(obj, "pattern", where), where / "pattern"),
                                               parse_behavior(string_member(obj, "behavior", where), where / "behavior"),
                                               bool_member_or(obj, "invert", false, where));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(bool_member_or(obj, "add_prefix_space", true, where),
                                                   bool_member_or(obj, "use_regex", true, where),
                                                   fmt::format("{}: {}", where.origin, where.path));
  }
  if (type == "Metaspace") {
    std::string replacement(optional_string_member(obj, "replacement", where).value_or("\xE2\x96\x81"));
    return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), parse_prepend_scheme(obj, where),
                                                   bool_member_or(obj, "split", true, where));
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPreTokenizer>(bool_member_or(obj, "individual_digits", false, where));
  }
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "Whitespace") {
    // `tokenizers` writes \w+|[^\w\s]+ for Rust's regex crate, whose \w is wider than PCRE2's: spelled out.
    return std::make_unique<SplitPreTokenizer>(SplitPattern::regex(kRustWordPattern, fmt::format("{}: {}", where.origin, where.path)),
                                               SplitBehavior::Removed, true);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    const auto list_where = where / "pretokenizers";
    size_t i = 0;
    for (auto child : as_array(member(obj, "pretokenizers", where), list_where)) {
      parts.push_back(make_pre_tokenizer(child, list_where[i++]));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  where.fail(fmt::format("unsupported pre_tokenizer type \"{}\" (supported: Split, ByteLevel, Metaspace, Digits, "
                         "Whitespace, WhitespaceSplit, Sequence)", type));
}

}  // namespace sabre
