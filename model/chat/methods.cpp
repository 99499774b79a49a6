// Python methods of str, dict and list that templates call through attribute access
// (`message.content.startswith('<tool_response>')`, `tool.get('name')`, `d.items()`).

#include <algorithm>

#include "model/chat/builtins.hpp"
#include "model/chat/error.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/string_ops.hpp"
#include "model/chat/text_search.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

using Method = Value (*)(const Value& self, CallArgs& args);

Value bind_method(const Value& self, const std::string& name, Method method) {
  return Value::callable(name, [self, method](CallArgs& args) { return method(self, args); });
}

// jinja2's ImmutableSandboxedEnvironment refuses methods that modify a list or dict.
Value refuse(const Value& self, const std::string& name) {
  const std::string message =
      "access to attribute '" + name + "' of '" + self.type_name() + "' object is unsafe.";
  return Value::callable(name, [message](CallArgs&) -> Value { throw TemplateError(message); });
}

std::string string_arg(const CallArgs& args, size_t index, std::string_view name) {
  auto v = args.get(index, name);
  if (!v) throw TemplateError(args.callee + "() missing required argument '" + std::string(name) + "'");
  if (!v->is_string()) {
    throw TemplateError(args.callee + "() argument '" + std::string(name) + "' must be str, not " + v->type_name());
  }
  return v->as_string();
}

std::optional<std::string> optional_string_arg(const CallArgs& args, size_t index, std::string_view name) {
  auto v = args.get(index, name);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) {
    throw TemplateError(args.callee + "() argument '" + std::string(name) + "' must be str or None, not " +
                        v->type_name());
  }
  return v->as_string();
}

int64_t int_arg(const CallArgs& args, size_t index, std::string_view name, int64_t fallback) {
  auto v = args.get(index, name);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) {
    throw TemplateError(args.callee + "() argument '" + std::string(name) + "' must be an integer");
  }
  return v->as_int();
}

Value string_list(std::vector<std::string> parts) {
  Array out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value(std::move(out));
}

// startswith/endswith accept one string or a tuple of strings.
template <bool kStarts>
Value affix_test(const Value& self, CallArgs& args) {
  args.expect_at_most(1, {});
  auto arg = args.get(0, "prefix");
  if (!arg) throw TemplateError(args.callee + "() takes at least 1 argument (0 given)");
  std::vector<std::string> candidates;
  if (arg->is_string()) {
    candidates.push_back(arg->as_string());
  } else if (arg->is_tuple()) {
    for (const Value& v : arg->as_array()) {
      if (!v.is_string()) throw TemplateError(args.callee + "() tuple items must be str, not " + v.type_name());
      candidates.push_back(v.as_string());
    }
  } else {
    throw TemplateError(args.callee + "() first arg must be str or a tuple of str, not " + arg->type_name());
  }
  const std::string& s = self.as_string();
  for (const auto& c : candidates) {
    if (kStarts ? s.starts_with(c) : s.ends_with(c)) return Value(true);
  }
  return Value(false);
}

template <StripSide kSide>
Value strip_method(const Value& self, CallArgs& args) {
  args.expect_at_most(1, {});
  return Value(python_strip(self.as_string(), optional_string_arg(args, 0, "chars"), kSide));
}

Value split_method(const Value& self, CallArgs& args) {
  args.expect_at_most(2, {"sep", "maxsplit"});
  return string_list(python_split(self.as_string(), optional_string_arg(args, 0, "sep"), int_arg(args, 1, "maxsplit", -1)));
}

Value rsplit_method(const Value& self, CallArgs& args) {
  args.expect_at_most(2, {"sep", "maxsplit"});
  return string_list(python_rsplit(self.as_string(), optional_string_arg(args, 0, "sep"), int_arg(args, 1, "maxsplit", -1)));
}

Value splitlines_method(const Value& self, CallArgs& args) {
  args.expect_at_most(1, {"keepends"});
  return string_list(python_splitlines(self.as_string(), args.get_or(0, "keepends", Value(false)).truthy()));
}

Value find_substring(const Value& self, CallArgs& args, bool reverse) {
  args.expect_at_most(1, {});
  const std::string needle = string_arg(args, 0, "sub");
  const std::string& s = self.as_string();
  const TextSearch search(needle);
  const size_t at = reverse ? search.rfind_in(s) : search.find_in(s);
  if (at == std::string::npos) return Value(int64_t{-1});
  return Value(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, at))));
}

Value format_method(const Value& self, CallArgs& args) {
  // str.format with {} / {0} / {name} fields and {{ }} escapes; format specs other than empty are refused.
  const std::string& fmt = self.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{') {
      const size_t close = fmt.find('}', i);
      if (close == std::string::npos) throw TemplateError("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      std::string spec;
      char conversion = '\0';
      if (const size_t colon = field.find(':'); colon != std::string::npos) {
        spec = field.substr(colon + 1);
        field.resize(colon);
      }
      if (const size_t bang = field.find('!'); bang != std::string::npos) {
        if (bang + 2 != field.size()) throw TemplateError("expected ':' after conversion specifier");
        conversion = field[bang + 1];
        if (conversion != 'r' && conversion != 's' && conversion != 'a') {
          throw TemplateError(std::string("Unknown conversion specifier ") + conversion);
        }
        field.resize(bang);
      }
      Value v;
      if (field.empty()) {
        if (auto_index >= args.positional.size()) throw TemplateError("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
        v = args.positional[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        const auto parsed = parse_int64(field);
        const size_t index = parsed ? static_cast<size_t>(*parsed) : SIZE_MAX;
        if (index >= args.positional.size()) throw TemplateError("Replacement index " + field + " out of range for positional args tuple");
        v = args.positional[index];
      } else {
        bool found = false;
        for (const auto& [k, kv] : args.keyword) {
          if (k == field) {
            v = kv;
            found = true;
          }
        }
        if (!found) throw TemplateError("KeyError: '" + field + "'");
      }
      if (conversion == 'r' || conversion == 'a') v = Value(python_repr(v));
      else if (conversion == 's') v = Value(to_python_str(v));
      out += python_format_value(v, spec);
      i = close;
    } else if (c == '}') {
      throw TemplateError("Single '}' encountered in format string");
    } else {
      out.push_back(c);
    }
  }
  return Value(std::move(out));
}

Value join_method(const Value& self, CallArgs& args) {
  args.expect_at_most(1, {});
  auto items = args.get(0, "iterable");
  if (!items) throw TemplateError("join() takes exactly one argument (0 given)");
  std::string out;
  bool first = true;
  for (const Value& v : iterate(*items)) {
    if (!v.is_string()) throw TemplateError("sequence item: expected str instance, " + v.type_name() + " found");
    if (!first) out += self.as_string();
    first = false;
    out += v.as_string();
  }
  return Value(std::move(out));
}

template <bool (*kPredicate)(char32_t)>
Value char_class_method(const Value& self, CallArgs& args) {
  args.expect_at_most(0, {});
  const std::u32string s = utf8_to_u32(self.as_string());
  if (s.empty()) return Value(false);
  return Value(std::all_of(s.begin(), s.end(), kPredicate));
}

Value pad_method(const Value& self, CallArgs& args,
                 std::string (*pad)(std::string_view, int64_t, std::string_view)) {
  args.expect_at_most(2, {});
  const int64_t width = int_arg(args, 0, "width", 0);
  const std::string fill = args.get(1, "fillchar") ? string_arg(args, 1, "fillchar") : std::string(" ");
  if (utf8_length(fill) != 1) throw TemplateError("The fill character must be exactly one character long");
  return Value(pad(self.as_string(), width, fill));
}

// str.islower/isupper: some cased character and none of the other case.
Value cased_test(const Value& self, CallArgs& args, bool want_lower) {
  args.expect_at_most(0, {});
  bool cased = false;
  for (char32_t cp : utf8_to_u32(self.as_string())) {
    const bool is_lower = to_upper_cp(cp) != cp;
    const bool is_upper = to_lower_cp(cp) != cp;
    if (want_lower ? is_upper : is_lower) return Value(false);
    cased = cased || is_lower || is_upper;
  }
  return Value(cased);
}

bool is_digit_cp(char32_t cp) { return cp >= '0' && cp <= '9'; }
bool is_alnum_cp(char32_t cp) { return is_digit_cp(cp) || is_letter_cp(cp); }

Value string_method(const Value& self, const std::string& name) {
  static const std::vector<std::pair<std::string_view, Method>> methods = {
      {"startswith", &affix_test<true>},
      {"endswith", &affix_test<false>},
      {"strip", &strip_method<StripSide::Both>},
      {"lstrip", &strip_method<StripSide::Left>},
      {"rstrip", &strip_method<StripSide::Right>},
      {"split", &split_method},
      {"rsplit", &rsplit_method},
      {"splitlines", &splitlines_method},
      {"upper", [](const Value& s, CallArgs& a) { a.expect_at_most(0, {}); return Value(to_upper(s.as_string())); }},
      {"lower", [](const Value& s, CallArgs& a) { a.expect_at_most(0, {}); return Value(to_lower(s.as_string())); }},
      {"title", [](const Value& s, CallArgs& a) { a.expect_at_most(0, {}); return Value(python_title(s.as_string())); }},
      {"capitalize",
       [](const Value& s, CallArgs& a) { a.expect_at_most(0, {}); return Value(python_capitalize(s.as_string())); }},
      {"replace",
       [](const Value& s, CallArgs& a) {
         a.expect_at_most(3, {"count"});
         return Value(python_replace(s.as_string(), string_arg(a, 0, "old"), string_arg(a, 1, "new"),
                                     int_arg(a, 2, "count", -1)));
       }},
      {"find", [](const Value& s, CallArgs& a) { return find_substring(s, a, false); }},
      {"rfind", [](const Value& s, CallArgs& a) { return find_substring(s, a, true); }},
      {"count",
       [](const Value& s, CallArgs& a) {
         a.expect_at_most(1, {});
         const std::string needle = string_arg(a, 0, "sub");
         const std::string& text = s.as_string();
         if (needle.empty()) return Value(static_cast<int64_t>(utf8_length(text) + 1));
         const TextSearch search(needle);
         int64_t n = 0;
         for (size_t at = search.find_in(text); at != TextSearch::npos; at = search.find_in(text, at + needle.size())) ++n;
         return Value(n);
       }},
      {"join", &join_method},
      {"center", [](const Value& s, CallArgs& a) { return pad_method(s, a, &python_center); }},
      {"ljust", [](const Value& s, CallArgs& a) { return pad_method(s, a, &python_ljust); }},
      {"rjust", [](const Value& s, CallArgs& a) { return pad_method(s, a, &python_rjust); }},
      {"zfill",
       [](const Value& s, CallArgs& a) {
         a.expect_at_most(1, {});
         std::string text = s.as_string();
         const bool sign = !text.empty() && (text[0] == '-' || text[0] == '+');
         const std::string body = python_rjust(std::string_view(text).substr(sign ? 1 : 0),
                                               int_arg(a, 0, "width", 0) - (sign ? 1 : 0), "0");
         return Value(sign ? text.substr(0, 1) + body : body);
       }},
      {"swapcase",
       [](const Value& s, CallArgs& a) {
         a.expect_at_most(0, {});
         std::string out;
         for (char32_t cp : utf8_to_u32(s.as_string())) {
           const char32_t upper = to_upper_cp(cp);
           append_utf8(out, upper != cp ? upper : to_lower_cp(cp));
         }
         return Value(std::move(out));
       }},
      {"casefold", [](const Value& s, CallArgs& a) { a.expect_at_most(0, {}); return Value(to_lower(s.as_string())); }},
      {"isupper", [](const Value& s, CallArgs& a) { return cased_test(s, a, false); }},
      {"islower", [](const Value& s, CallArgs& a) { return cased_test(s, a, true); }},
      {"format", &format_method},
      {"isdigit", &char_class_method<is_digit_cp>},
      {"isalpha", &char_class_method<is_letter_cp>},
      {"isalnum", &char_class_method<is_alnum_cp>},
      {"isspace", &char_class_method<is_python_space>},
  };
  for (const auto& [n, m] : methods) {
    if (n == name) return bind_method(self, name, m);
  }
  return Value();
}

Value dict_items(const Value& self, CallArgs& args) {
  args.expect_at_most(0, {});
  Array out;
  for (const auto& [k, v] : self.as_object().entries()) out.push_back(Value::tuple({key_value(k), v}));
  return Value::sequence(std::move(out), Value::Sequence::DictItems);
}

Value dict_method(const Value& self, const std::string& name) {
  if (name == "items") return bind_method(self, name, &dict_items);
  if (name == "keys") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(0, {});
      return Value::sequence(iterate(s), Value::Sequence::DictKeys);
    });
  }
  if (name == "values") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(0, {});
      Array out;
      for (const auto& [k, v] : s.as_object().entries()) out.push_back(v);
      return Value::sequence(std::move(out), Value::Sequence::DictValues);
    });
  }
  if (name == "get") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(2, {});
      auto key = a.get(0, "key");
      if (!key) throw TemplateError("get expected at least 1 argument, got 0");
      if (const Value* v = s.as_object().find(dict_key(*key))) return *v;
      return a.get_or(1, "default", Value(nullptr));
    });
  }
  if (name == "copy") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(0, {});
      return Value(Object(s.as_object()));
    });
  }
  if (name == "pop" || name == "popitem" || name == "update" || name == "setdefault" || name == "clear") {
    return refuse(self, name);
  }
  return Value();
}

Value list_method(const Value& self, const std::string& name) {
  if (name == "index") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(1, {});
      auto needle = a.get(0, "value");
      const Array& items = s.as_array();
      for (size_t i = 0; needle && i < items.size(); ++i) {
        if (items[i].equals(*needle)) return Value(static_cast<int64_t>(i));
      }
      throw TemplateError((needle ? python_repr(*needle) : std::string("value")) + " is not in list");
    });
  }
  if (name == "count") {
    return bind_method(self, name, [](const Value& s, CallArgs& a) {
      a.expect_at_most(1, {});
      auto needle = a.get(0, "value");
      int64_t n = 0;
      for (const Value& v : s.as_array()) n += needle && v.equals(*needle);
      return Value(n);
    });
  }
  if (!self.is_tuple() && (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
                           name == "remove" || name == "reverse" || name == "sort" || name == "clear")) {
    return refuse(self, name);
  }
  return Value();
}

}  // namespace

Value find_method(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::String: return string_method(object, name);
    case Value::Kind::Object: return dict_method(object, name);
    case Value::Kind::Array: return object.is_sequence() ? list_method(object, name) : Value();
    default: return Value();
  }
}

}  // namespace sabre::chat
