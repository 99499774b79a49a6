#include "model/tokenizer/pattern.hpp"

namespace sabre {

SplitPattern SplitPattern::from_json(tokenizer_json::Element e, const tokenizer_json::Where& where) {
  using namespace tokenizer_json;
  auto obj = as_object(e, where);
  if (auto s = optional_string_member(obj, "String", where)) return literal(std::string(*s));
  if (auto r = optional_string_member(obj, "Regex", where)) {
    return regex(*r, fmt::format("{}: {}.Regex", where.origin, where.path));
  }
  where.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

SplitPattern SplitPattern::literal(std::string text) {
  SplitPattern p;
  p.literal_ = std::move(text);
  return p;
}

SplitPattern SplitPattern::regex(std::string_view onig_pattern, std::string_view origin) {
  SplitPattern p;
  p.regex_.emplace(translate_onig_pattern(onig_pattern), origin);
  return p;
}

void SplitPattern::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  if (literal_.empty()) return;
  size_t pos = 0;
  while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
    out.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
}

std::string replace_all(const SplitPattern& pattern, std::string_view text, std::string_view content) {
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  matches.clear();
  pattern.find_all(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size() + matches.size() * content.size());
  size_t last = 0;
  for (auto [b, e] : matches) {
    out.append(text.substr(last, b - last)).append(content);
    last = e;
  }
  out.append(text.substr(last));
  return out;
}

}  // namespace sabre
