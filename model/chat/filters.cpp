// jinja2's built-in filters, with transformers' tojson in place of jinja2's HTML-escaping one.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_set>
#include <utility>

#include "model/chat/builtins.hpp"
#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/string_ops.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

using Filter = Value (*)(const Value& input, CallArgs& args);

std::string str(const Value& v) { return to_python_str(v); }

// jinja2's map/select/unique/items filters are Python generators, and the result shows it.
Value generator(Array items) { return Value::sequence(std::move(items), Value::Sequence::Generator); }

// An attribute path as jinja2's make_attrgetter reads it: "a.b.0" looks up a, then b, then item 0.
Value lookup_path(const Value& item, const Value& path) {
  if (!path.is_string()) return get_item(item, path);
  Value current = item;
  for (const std::string& part : python_split(path.as_string(), std::string("."), -1)) {
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    // Digits past int64 cannot index anything: they are looked up as the string they are.
    const auto index = numeric ? parse_int64(part) : std::nullopt;
    current = get_item(current, index ? Value(*index) : Value(part));
  }
  return current;
}

// The key a sort-like filter compares by: the item or its attribute, lower-cased unless case-sensitive.
Value sort_key(const Value& item, const std::optional<Value>& attribute, bool case_sensitive) {
  Value key = attribute && !attribute->is_none() ? lookup_path(item, *attribute) : item;
  if (!case_sensitive && key.is_string()) return Value(to_lower(key.as_string()));
  return key;
}

Value filter_length(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(length_of(input));
}

Value filter_trim(const Value& input, CallArgs& args) {
  args.expect_at_most(1, {"chars"});
  auto chars = args.get(0, "chars");
  std::optional<std::string> set;
  if (chars && !chars->is_none()) set = str(*chars);
  return Value(python_strip(str(input), set, StripSide::Both));
}

Value filter_tojson(const Value& input, CallArgs& args) {
  args.expect_at_most(4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle style;
  style.ensure_ascii = args.get_or(0, "ensure_ascii", Value(false)).truthy();
  const Value indent = args.get_or(1, "indent", Value(nullptr));
  if (indent.is_int() || indent.is_bool()) {
    style.indent = std::string(checked_width(indent.as_int(), "tojson indent"), ' ');
  } else if (indent.is_string()) {
    style.indent = indent.as_string();
  } else if (!indent.is_none()) {
    throw TemplateError("tojson indent must be an int, a string or None, not " + indent.type_name());
  }
  if (style.indent) style.item_separator = ",";
  const Value separators = args.get_or(2, "separators", Value(nullptr));
  if (separators.is_sequence() && separators.as_array().size() == 2 && separators.as_array()[0].is_string() &&
      separators.as_array()[1].is_string()) {
    style.item_separator = separators.as_array()[0].as_string();
    style.key_separator = separators.as_array()[1].as_string();
  } else if (!separators.is_none()) {
    throw TemplateError("tojson separators must be a pair of strings");
  }
  style.sort_keys = args.get_or(3, "sort_keys", Value(false)).truthy();
  return Value(to_json(input, style));
}

Value filter_items(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  if (input.is_undefined()) return generator({});
  if (!input.is_object()) throw TemplateError("Can only get item pairs from a mapping.");
  Array out;
  for (const auto& [k, v] : input.as_object().entries()) out.push_back(Value::tuple({key_value(k), v}));
  return generator(std::move(out));
}

Value filter_first(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  Array items = iterate(input);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value filter_last(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  Array items = iterate(input);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value filter_join(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"d", "attribute"});
  const std::string separator = str(args.get_or(0, "d", Value("")));
  const auto attribute = args.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += str(attribute && !attribute->is_none() ? lookup_path(item, *attribute) : item);
    check_value_size(out.size(), "a joined string");
  }
  return Value(std::move(out));
}

Value filter_default(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"default_value", "boolean"});
  const Value fallback = args.get_or(0, "default_value", Value(""));
  const bool boolean = args.get_or(1, "boolean", Value(false)).truthy();
  if (input.is_undefined() || (boolean && !input.truthy())) return fallback;
  return input;
}

Value filter_upper(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(to_upper(str(input)));
}

Value filter_lower(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(to_lower(str(input)));
}

Value filter_title(const Value& input, CallArgs& args) {
  // jinja2 capitalises each piece after a run of "-", whitespace or an opening bracket.
  args.expect_at_most(0, {});
  std::string out;
  bool word_start = true;
  for (char32_t cp : utf8_to_u32(str(input))) {
    const bool separator = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_python_space(cp);
    if (separator) {
      append_utf8(out, cp);
      word_start = true;
    } else {
      append_utf8(out, word_start ? to_upper_cp(cp) : to_lower_cp(cp));
      word_start = false;
    }
  }
  return Value(std::move(out));
}

Value filter_capitalize(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(python_capitalize(str(input)));
}

Value filter_replace(const Value& input, CallArgs& args) {
  args.expect_at_most(3, {"old", "new", "count"});
  auto old = args.get(0, "old");
  auto replacement = args.get(1, "new");
  if (!old || !replacement) throw TemplateError("replace() needs the old and new strings");
  const Value count = args.get_or(2, "count", Value(nullptr));
  return Value(python_replace(str(input), str(*old), str(*replacement), count.is_none() ? -1 : count.as_int()));
}

Value filter_string(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(str(input));
}

std::optional<int64_t> parse_python_int(std::string text, int base) {
  text = python_strip(text, std::nullopt, StripSide::Both);
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, base);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_python_float(const std::string& raw) {
  const std::string text = python_strip(raw, std::nullopt, StripSide::Both);
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

Value filter_int(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"default", "base"});
  const Value fallback = args.get_or(0, "default", Value(int64_t{0}));
  const int base = static_cast<int>(args.get_or(1, "base", Value(int64_t{10})).as_int());
  if (input.is_undefined()) fail_undefined(input);  // int(Undefined) raises in jinja2
  if (input.is_int() || input.is_bool()) return Value(input.as_int());
  if (input.is_float()) {
    if (!std::isfinite(input.as_float())) return fallback;
    return Value(static_cast<int64_t>(std::trunc(input.as_float())));
  }
  if (input.is_string()) {
    if (auto v = parse_python_int(input.as_string(), base)) return Value(*v);
    if (auto f = parse_python_float(input.as_string()); f && std::isfinite(*f)) {
      return Value(static_cast<int64_t>(std::trunc(*f)));
    }
  }
  return fallback;
}

Value filter_float(const Value& input, CallArgs& args) {
  args.expect_at_most(1, {"default"});
  const Value fallback = args.get_or(0, "default", Value(0.0));
  if (input.is_undefined()) fail_undefined(input);  // float(Undefined) raises in jinja2
  if (input.is_number()) return Value(input.as_float());
  if (input.is_string()) {
    if (auto f = parse_python_float(input.as_string())) return Value(*f);
  }
  return fallback;
}

Value filter_list(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(iterate(input));
}

Value filter_round(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"precision", "method"});
  const int64_t precision = args.get_or(0, "precision", Value(int64_t{0})).as_int();
  const std::string method = str(args.get_or(1, "method", Value("common")));
  if (method != "common" && method != "ceil" && method != "floor") {
    throw TemplateError("method must be common, ceil or floor");
  }
  if (!input.is_number()) throw TemplateError("round() needs a number, not " + input.type_name());
  if (method == "common") {
    if (input.is_int() || input.is_bool()) return Value(input.as_int());
    // Python's round() rounds the exact binary value correctly, ties to even; so does printf.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), input.as_float());
    return Value(std::strtod(buf, nullptr));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = input.as_float() * scale;
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_abs(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  if (input.is_int() || input.is_bool()) {
    if (input.as_int() == INT64_MIN) throw TemplateError("integer overflow in 'abs': the result does not fit in 64 bits");
    return Value(std::abs(input.as_int()));
  }
  if (input.is_float()) return Value(std::fabs(input.as_float()));
  throw TemplateError("bad operand type for abs(): '" + input.type_name() + "'");
}

Value filter_reverse(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  if (input.is_string()) return slice(input, std::nullopt, std::nullopt, Value(int64_t{-1}));
  Array items = iterate(input);
  std::reverse(items.begin(), items.end());
  // Python's reversed() gives an iterator; a generator cannot be reversed, so jinja2 builds a list.
  if (input.is_lazy()) return Value(std::move(items));
  return Value::sequence(std::move(items), Value::Sequence::Iterator);
}

Value filter_sort(const Value& input, CallArgs& args) {
  args.expect_at_most(3, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = args.get_or(0, "reverse", Value(false)).truthy();
  const bool case_sensitive = args.get_or(1, "case_sensitive", Value(false)).truthy();
  const auto attribute = args.get(2, "attribute");
  Array items = iterate(input);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) keyed.emplace_back(sort_key(item, attribute, case_sensitive), std::move(item));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? python_compare(b.first, a.first) < 0 : python_compare(a.first, b.first) < 0;
  });
  Array out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value(std::move(out));
}

Value filter_unique(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"case_sensitive", "attribute"});
  const bool case_sensitive = args.get_or(0, "case_sensitive", Value(false)).truthy();
  const auto attribute = args.get(1, "attribute");
  // jinja2 keeps a Python set of the keys. Strings, numbers and None are hashed: a string as itself behind
  // a marker, a number or None by its dict key (equal numbers share one, as in Python), which starts with
  // another. The rest (tuples, undefined) are rare and compared one by one.
  std::unordered_set<std::string> seen_hashed;
  Array seen_other;
  Array out;
  for (const Value& item : iterate(input)) {
    Value key = sort_key(item, attribute, case_sensitive);
    if (key.is_object() || key.is_list() || key.is_namespace()) {
      throw TemplateError("unhashable type: '" + key.type_name() + "'");
    }
    if (key.is_string() || key.is_number() || key.is_none()) {
      if (!seen_hashed.insert(key.is_string() ? "s" + key.as_string() : dict_key(key)).second) continue;
    } else {
      if (std::any_of(seen_other.begin(), seen_other.end(), [&](const Value& s) { return s.equals(key); })) continue;
      seen_other.push_back(std::move(key));
    }
    out.push_back(item);
  }
  return generator(std::move(out));
}

Value filter_minmax(const Value& input, CallArgs& args, bool want_max) {
  args.expect_at_most(2, {"case_sensitive", "attribute"});
  const bool case_sensitive = args.get_or(0, "case_sensitive", Value(false)).truthy();
  const auto attribute = args.get(1, "attribute");
  Array items = iterate(input);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = python_compare(sort_key(items[i], attribute, case_sensitive), sort_key(items[best], attribute, case_sensitive));
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

Value filter_sum(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"attribute", "start"});
  const auto attribute = args.get(0, "attribute");
  Value total = args.get_or(1, "start", Value(int64_t{0}));
  for (const Value& item : iterate(input)) {
    total = binary_op("+", total, attribute && !attribute->is_none() ? lookup_path(item, *attribute) : item);
  }
  return total;
}

// map(filter_name, args...) or map(attribute=path, default=value).
Value filter_map(const Value& input, CallArgs& args) {
  Array out;
  if (!input.truthy()) return generator({});  // jinja2 maps nothing over a falsy value, None included
  auto attribute = args.get(SIZE_MAX, "attribute");
  if (attribute) {
    const auto fallback = args.get(SIZE_MAX, "default");
    for (const Value& item : iterate(input)) {
      Value v = lookup_path(item, *attribute);
      out.push_back(v.is_undefined() && fallback ? *fallback : v);
    }
    return generator(std::move(out));
  }
  if (args.positional.empty()) throw TemplateError("map requires a filter argument");
  const std::string name = str(args.positional[0]);
  if (!has_filter(name)) throw TemplateError("No filter named '" + name + "'.");
  for (const Value& item : iterate(input)) {
    CallArgs rest{{args.positional.begin() + 1, args.positional.end()}, args.keyword, name};
    out.push_back(apply_filter(name, item, rest));
  }
  return generator(std::move(out));
}

// select/reject (by a test on the item) and selectattr/rejectattr (by a test on an attribute).
Value select_like(const Value& input, CallArgs& args, bool keep_when, bool by_attribute) {
  if (!input.truthy()) return generator({});  // jinja2 selects nothing from a falsy value, None included
  size_t next = 0;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw TemplateError("selectattr/rejectattr need an attribute name");
    attribute = args.positional[next++];
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) {
    test = str(args.positional[next++]);
    if (!has_test(*test)) throw TemplateError("No test named '" + *test + "'.");
  }
  Array out;
  for (const Value& item : iterate(input)) {
    const Value subject = attribute ? lookup_path(item, *attribute) : item;
    bool passed;
    if (test) {
      CallArgs rest{{args.positional.begin() + static_cast<long>(next), args.positional.end()}, args.keyword, *test};
      passed = apply_test(*test, subject, rest);
    } else {
      passed = subject.truthy();
    }
    if (passed == keep_when) out.push_back(item);
  }
  return generator(std::move(out));
}

Value filter_escape(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  if (input.is_markup()) return input;  // already safe: never escaped twice
  return Value::markup(html_escape(str(input)));
}

Value filter_safe(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return input.is_markup() ? input : Value::markup(str(input));
}

Value filter_indent(const Value& input, CallArgs& args) {
  args.expect_at_most(3, {"width", "first", "blank"});
  const Value width = args.get_or(0, "width", Value(int64_t{4}));
  const std::string indention =
      width.is_string() ? width.as_string() : std::string(checked_width(width.as_int(), "an indent"), ' ');
  const bool first = args.get_or(1, "first", Value(false)).truthy();
  const bool blank = args.get_or(2, "blank", Value(false)).truthy();
  if (!input.is_string()) {  // jinja2 appends "\n" to the value itself, which only a string survives
    if (input.is_undefined()) fail_undefined(input);
    throw TemplateError("unsupported operand type(s) for +=: '" + input.type_name() + "' and 'str'");
  }
  const std::vector<std::string> lines = python_splitlines(str(input) + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += "\n";
      if (blank || !lines[i].empty()) out += indention;
    }
    out += lines[i];
  }
  if (first) out = indention + out;
  return Value(std::move(out));
}

Value filter_wordcount(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  int64_t words = 0;
  bool in_word = false;
  for (char32_t cp : utf8_to_u32(str(input))) {
    const bool word_char = cp == '_' || (cp >= '0' && cp <= '9') || is_letter_cp(cp);
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value(words);
}

Value filter_dictsort(const Value& input, CallArgs& args) {
  args.expect_at_most(3, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = args.get_or(0, "case_sensitive", Value(false)).truthy();
  const std::string by = str(args.get_or(1, "by", Value("key")));
  const bool reverse = args.get_or(2, "reverse", Value(false)).truthy();
  if (by != "key" && by != "value") throw TemplateError("You can only sort by either \"key\" or \"value\"");
  if (!input.is_object()) throw TemplateError("dictsort needs a mapping, not " + input.type_name());
  Array pairs;
  for (const auto& [k, v] : input.as_object().entries()) pairs.push_back(Value::tuple({key_value(k), v}));
  const size_t index = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    const Value ka = sort_key(a.as_array()[index], std::nullopt, case_sensitive);
    const Value kb = sort_key(b.as_array()[index], std::nullopt, case_sensitive);
    return reverse ? python_compare(kb, ka) < 0 : python_compare(ka, kb) < 0;
  });
  return Value(std::move(pairs));
}

Value filter_attr(const Value& input, CallArgs& args) {
  args.expect_at_most(1, {});
  const std::string name = str(args.get_or(0, "name", Value("")));
  if (input.is_namespace()) return get_attribute(input, name);
  Value method = find_method(input, name);
  if (!method.is_undefined()) return method;
  if (input.is_undefined()) fail_undefined(input);
  return Value::undefined("'" + input.type_name() + " object' has no attribute '" + name + "'");
}

// "%s, %s"|format(a, b) is Python's "%s, %s" % (a, b); keyword arguments fill %(name)s.
Value filter_format(const Value& input, CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    throw TemplateError("can't handle positional and keyword arguments at the same time");
  }
  if (!args.keyword.empty()) {
    Object mapping;
    for (const auto& [k, v] : args.keyword) mapping.set(k, v);
    return Value(python_percent_format(str(input), Value(std::move(mapping))));
  }
  return Value(python_percent_format(str(input), Value::tuple(args.positional)));
}

Value filter_batch(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"linecount", "fill_with"});
  const int64_t size = args.get_or(0, "linecount", Value(int64_t{1})).as_int();
  if (size <= 0) throw TemplateError("batch size must be positive");
  const auto fill = args.get(1, "fill_with");
  Array out;
  Array current;
  for (const Value& item : iterate(input)) {
    current.push_back(item);
    if (static_cast<int64_t>(current.size()) == size) out.emplace_back(std::exchange(current, {}));
  }
  if (!current.empty()) {
    if (fill && !fill->is_none()) {
      while (static_cast<int64_t>(current.size()) < size) current.push_back(*fill);
    }
    out.emplace_back(std::move(current));
  }
  return generator(std::move(out));
}

Value filter_slice(const Value& input, CallArgs& args) {
  args.expect_at_most(2, {"slices", "fill_with"});
  const int64_t slices = args.get_or(0, "slices", Value(int64_t{1})).as_int();
  if (slices <= 0) throw TemplateError("slice count must be positive");
  const auto fill = args.get(1, "fill_with");
  const Array items = iterate(input);
  const auto length = static_cast<int64_t>(items.size());
  const int64_t per_slice = length / slices;
  const int64_t with_extra = length % slices;
  int64_t offset = 0;
  Array out;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per_slice;
    if (n < with_extra) ++offset;
    const int64_t end = offset + (n + 1) * per_slice;
    Array part(items.begin() + start, items.begin() + end);
    if (fill && !fill->is_none() && n >= with_extra) part.push_back(*fill);
    out.emplace_back(std::move(part));
  }
  return generator(std::move(out));
}

Value filter_center(const Value& input, CallArgs& args) {
  args.expect_at_most(1, {"width"});
  return Value(python_center(str(input), args.get_or(0, "width", Value(int64_t{80})).as_int(), " "));
}

Value filter_truncate(const Value& input, CallArgs& args) {
  args.expect_at_most(4, {"length", "killwords", "end", "leeway"});
  const int64_t length = args.get_or(0, "length", Value(int64_t{255})).as_int();
  const bool killwords = args.get_or(1, "killwords", Value(false)).truthy();
  const std::string end = str(args.get_or(2, "end", Value("...")));
  const Value leeway_arg = args.get_or(3, "leeway", Value(nullptr));
  const int64_t leeway = leeway_arg.is_none() ? 5 : leeway_arg.as_int();  // jinja2's truncate.leeway policy
  const auto end_length = static_cast<int64_t>(utf8_length(end));
  if (!input.is_string()) {  // jinja2 measures the value itself
    if (length_of(input) <= length + leeway) return input;
    throw TemplateError("truncate needs a string, not " + input.type_name());
  }
  if (length < end_length) throw TemplateError("expected length >= " + std::to_string(end_length));
  const std::u32string s = utf8_to_u32(str(input));
  if (static_cast<int64_t>(s.size()) <= length + leeway) return Value(str(input));
  std::string kept = u32_to_utf8(s.substr(0, static_cast<size_t>(length - end_length)));
  if (!killwords) kept = python_rsplit(kept, std::string(" "), 1).front();
  return Value(kept + end);
}

Value filter_striptags(const Value& input, CallArgs& args) {
  // markupsafe's striptags: drop comments and tags, collapse whitespace, unescape entities.
  args.expect_at_most(0, {});
  std::string text = str(input);
  std::string stripped;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 4, "<!--") == 0) {
      const size_t close = text.find("-->", i + 4);
      if (close != std::string::npos) {
        i = close + 3;
        continue;
      }
    }
    if (text[i] == '<') {
      const size_t close = text.find('>', i + 1);
      if (close != std::string::npos) {
        i = close + 1;
        continue;
      }
    }
    stripped.push_back(text[i++]);
  }
  std::string joined;
  for (const std::string& word : python_split(stripped, std::nullopt, -1)) {
    if (!joined.empty()) joined.push_back(' ');
    joined += word;
  }
  static const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&#34;", "\""}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [entity, plain] : entities) joined = python_replace(joined, entity, plain, -1);
  return Value(std::move(joined));
}

// pprint.pformat sorts dict keys; this copy does, for values short enough to fit one line.
Value sorted_dicts(const Value& v) {
  if (v.is_object()) {
    std::vector<std::pair<std::string, Value>> entries = v.as_object().entries();
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return python_compare(key_value(a.first), key_value(b.first)) < 0; });
    Object out;
    for (auto& [k, x] : entries) out.set(k, sorted_dicts(x));
    return Value(std::move(out));
  }
  if (v.is_sequence()) {
    Array out;
    for (const Value& x : v.as_array()) out.push_back(sorted_dicts(x));
    return Value(std::move(out), v.is_tuple());
  }
  return v;
}

Value filter_pprint(const Value& input, CallArgs& args) {
  args.expect_at_most(0, {});
  return Value(python_repr(sorted_dicts(input)));
}

const std::map<std::string, Filter, std::less<>>& filters() {
  static const std::map<std::string, Filter, std::less<>> table = {
      {"length", &filter_length},
      {"count", &filter_length},
      {"trim", &filter_trim},
      {"tojson", &filter_tojson},
      {"items", &filter_items},
      {"first", &filter_first},
      {"last", &filter_last},
      {"join", &filter_join},
      {"default", &filter_default},
      {"d", &filter_default},
      {"upper", &filter_upper},
      {"lower", &filter_lower},
      {"title", &filter_title},
      {"capitalize", &filter_capitalize},
      {"replace", &filter_replace},
      {"string", &filter_string},
      {"int", &filter_int},
      {"float", &filter_float},
      {"list", &filter_list},
      {"round", &filter_round},
      {"abs", &filter_abs},
      {"reverse", &filter_reverse},
      {"sort", &filter_sort},
      {"unique", &filter_unique},
      {"min", [](const Value& in, CallArgs& a) { return filter_minmax(in, a, false); }},
      {"max", [](const Value& in, CallArgs& a) { return filter_minmax(in, a, true); }},
      {"sum", &filter_sum},
      {"map", &filter_map},
      {"select", [](const Value& in, CallArgs& a) { return select_like(in, a, true, false); }},
      {"reject", [](const Value& in, CallArgs& a) { return select_like(in, a, false, false); }},
      {"selectattr", [](const Value& in, CallArgs& a) { return select_like(in, a, true, true); }},
      {"rejectattr", [](const Value& in, CallArgs& a) { return select_like(in, a, false, true); }},
      {"safe", &filter_safe},
      {"e", &filter_escape},
      {"escape", &filter_escape},
      {"indent", &filter_indent},
      {"wordcount", &filter_wordcount},
      {"dictsort", &filter_dictsort},
      {"attr", &filter_attr},
      {"format", &filter_format},
      {"batch", &filter_batch},
      {"slice", &filter_slice},
      {"center", &filter_center},
      {"truncate", &filter_truncate},
      {"striptags", &filter_striptags},
      {"pprint", &filter_pprint},
      {"forceescape",
       [](const Value& in, CallArgs& a) { a.expect_at_most(0, {}); return Value::markup(html_escape(str(in))); }},
  };
  return table;
}

}  // namespace

bool has_filter(std::string_view name) { return filters().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw TemplateError("No filter named '" + name + "'.");
  if (args.callee.empty()) args.callee = name;
  return it->second(input, args);
}

}  // namespace sabre::chat
