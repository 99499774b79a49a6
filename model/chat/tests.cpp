// jinja2's built-in tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...).

#include <algorithm>
#include <map>

#include "model/chat/builtins.hpp"
#include "model/chat/error.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

using Test = bool (*)(const Value& input, CallArgs& args);

Value required(const CallArgs& args, std::string_view name) {
  auto v = args.get(0, name);
  if (!v) throw TemplateError("test " + args.callee + " needs an argument");
  return *v;
}

bool has_cased(const std::string& s, bool want_lower) {
  // Python's islower/isupper: at least one cased character and none of the opposite case.
  bool cased = false;
  for (char32_t cp : utf8_to_u32(s)) {
    const bool is_lower = to_upper_cp(cp) != cp;
    const bool is_upper = to_lower_cp(cp) != cp;
    if (want_lower ? is_upper : is_lower) return false;
    cased = cased || (want_lower ? is_lower : is_upper);
  }
  return cased;
}

const std::map<std::string, Test, std::less<>>& tests() {
  static const std::map<std::string, Test, std::less<>> table = {
      {"defined", [](const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](const Value& v, CallArgs&) { return v.is_none(); }},
      {"string", [](const Value& v, CallArgs&) { return v.is_string(); }},
      {"number", [](const Value& v, CallArgs&) { return v.is_number(); }},
      {"integer", [](const Value& v, CallArgs&) { return v.is_int(); }},
      {"float", [](const Value& v, CallArgs&) { return v.is_float(); }},
      {"boolean", [](const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false", [](const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"mapping", [](const Value& v, CallArgs&) { return v.is_object(); }},
      {"iterable",
       [](const Value& v, CallArgs&) { return v.is_undefined() || v.is_string() || v.is_array() || v.is_object(); }},
      {"sequence",
       [](const Value& v, CallArgs&) { return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_object(); }},
      // jinja2's Undefined defines __call__ (to raise), so Python calls it callable.
      {"callable", [](const Value& v, CallArgs&) { return v.is_callable() || v.is_undefined(); }},
      // value % 2 == 1 and friends, with Python's % (floats allowed).
      {"even", [](const Value& v, CallArgs&) { return binary_op("%", v, Value(int64_t{2})).equals(Value(int64_t{0})); }},
      {"odd", [](const Value& v, CallArgs&) { return binary_op("%", v, Value(int64_t{2})).equals(Value(int64_t{1})); }},
      {"divisibleby",
       [](const Value& v, CallArgs& a) { return binary_op("%", v, required(a, "num")).equals(Value(int64_t{0})); }},
      {"eq", [](const Value& v, CallArgs& a) { return v.equals(required(a, "other")); }},
      {"equalto", [](const Value& v, CallArgs& a) { return v.equals(required(a, "other")); }},
      {"==", [](const Value& v, CallArgs& a) { return v.equals(required(a, "other")); }},
      {"ne", [](const Value& v, CallArgs& a) { return !v.equals(required(a, "other")); }},
      {"!=", [](const Value& v, CallArgs& a) { return !v.equals(required(a, "other")); }},
      {"lt", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) < 0; }},
      {"lessthan", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) < 0; }},
      {"<", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) < 0; }},
      {"le", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) <= 0; }},
      {"<=", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) <= 0; }},
      {"gt", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) > 0; }},
      {"greaterthan", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) > 0; }},
      {">", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) > 0; }},
      {"ge", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) >= 0; }},
      {">=", [](const Value& v, CallArgs& a) { return python_compare(v, required(a, "other")) >= 0; }},
      {"in", [](const Value& v, CallArgs& a) { return contains(required(a, "seq"), v); }},
      {"sameas", [](const Value& v, CallArgs& a) { return v.same_as(required(a, "other")); }},
      {"lower", [](const Value& v, CallArgs&) { return has_cased(to_python_str(v), true); }},
      {"upper", [](const Value& v, CallArgs&) { return has_cased(to_python_str(v), false); }},
      {"escaped", [](const Value&, CallArgs&) { return false; }},
      {"filter", [](const Value& v, CallArgs&) { return v.is_string() && has_filter(v.as_string()); }},
      {"test", [](const Value& v, CallArgs&) { return v.is_string() && has_test(v.as_string()); }},
  };
  return table;
}

}  // namespace

bool has_test(std::string_view name) { return tests().count(name) != 0; }

bool apply_test(const std::string& name, const Value& input, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw TemplateError("No test named '" + name + "'.");
  if (args.callee.empty()) args.callee = name;
  return it->second(input, args);
}

}  // namespace sabre::chat
