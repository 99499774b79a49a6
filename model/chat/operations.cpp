#include "model/chat/operations.hpp"

#include <cmath>
#include <cstdint>

#include "model/chat/builtins.hpp"
#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/text_search.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

void fail_undefined(const Value& undefined) { throw TemplateError(undefined.undefined_hint()); }

namespace {

// jinja2's object_type_repr: "dict object", "None", ... used in "has no attribute" hints.
std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_namespace()) return "jinja2.utils.Namespace object";
  return v.type_name() + " object";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(python_repr(Value(object_type_repr(obj))) + " has no attribute " + python_repr(Value(name)));
}

Value missing_element(const Value& obj, const Value& key) {
  if (key.is_string()) return missing_attribute(obj, key.as_string());
  return Value::undefined(object_type_repr(obj) + " has no element " + python_repr(key));
}

// A Python index into a sequence of `size`; nullopt when out of range.
std::optional<size_t> resolve_index(int64_t index, size_t size) {
  if (index < 0) index += static_cast<int64_t>(size);
  if (index < 0 || index >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(index);
}

TemplateError type_error(const std::string& message) { return TemplateError(message); }

std::string operand_types(const Value& a, const Value& b) {
  return "'" + a.type_name() + "' and '" + b.type_name() + "'";
}

bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }

// Python's ints are unbounded; ours are 64-bit, so a result that does not fit is an error rather than
// undefined behaviour or a silently wrapped number.
void fail_overflow(const char* op) {
  throw TemplateError(std::string("integer overflow in '") + op + "': the result does not fit in 64 bits");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) fail_overflow("+");
  return out;
}

int64_t checked_sub(int64_t a, int64_t b, const char* op = "-") {
  int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) fail_overflow(op);
  return out;
}

int64_t checked_mul(int64_t a, int64_t b, const char* op = "*") {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) fail_overflow(op);
  return out;
}

int64_t checked_power(int64_t base, int64_t exponent) {
  if (base == 0 || base == 1) return exponent == 0 ? 1 : base;
  if (base == -1) return exponent % 2 == 0 ? 1 : -1;
  int64_t result = 1;  // |base| >= 2 overflows within 64 steps
  for (int64_t i = 0; i < exponent; ++i) result = checked_mul(result, base, "**");
  return result;
}

// A repeated string or list may not grow past the value limits: `'x' * 10**12` would exhaust memory
// before any error could be raised.
Value repeat(const Value& sequence, int64_t times) {
  const size_t unit = sequence.is_string() ? sequence.as_string().size() : sequence.as_array().size();
  const size_t limit = sequence.is_string() ? kMaxValueSize : kMaxListItems;
  if (times > 0 && unit > 0 && static_cast<uint64_t>(times) > limit / unit) {
    throw TemplateError("repetition too large: " + std::to_string(unit) + " x " + std::to_string(times) +
                        " elements is over the limit of " + std::to_string(limit));
  }
  // Nothing repeated any number of times is nothing, at once: `'' * 10**10` would otherwise loop 10**10
  // times appending nothing (fuzz_chat_template).
  if (unit == 0) times = 0;
  if (sequence.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += sequence.as_string();
    return Value(std::move(out));
  }
  Array out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), sequence.as_array().begin(), sequence.as_array().end());
  return Value(std::move(out), sequence.is_tuple());
}

int64_t floor_div(int64_t a, int64_t b) {
  if (a == INT64_MIN && b == -1) fail_overflow("//");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj);
    case Value::Kind::Object: {
      // Python's getattr finds dict methods first; jinja2 then falls back to the item.
      Value method = find_method(obj, name);
      if (!method.is_undefined()) return method;
      if (const Value* v = obj.as_object().find(name)) return *v;
      return missing_attribute(obj, name);
    }
    case Value::Kind::Namespace: {
      if (const Value* v = obj.as_object().find(name)) return *v;
      return missing_attribute(obj, name);
    }
    case Value::Kind::String:
    case Value::Kind::Array: {
      Value method = find_method(obj, name);
      if (!method.is_undefined()) return method;
      return missing_attribute(obj, name);
    }
    default: return missing_attribute(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj);
    case Value::Kind::Array:
      if (is_integral(key) && obj.is_sequence()) {
        if (auto i = resolve_index(key.as_int(), obj.as_array().size())) return obj.as_array()[*i];
        return missing_element(obj, key);
      }
      break;
    case Value::Kind::String:
      if (is_integral(key)) {
        const std::u32string chars = utf8_to_u32(obj.as_string());
        if (auto i = resolve_index(key.as_int(), chars.size())) return Value(u32_to_utf8(chars.substr(*i, 1)));
        return missing_element(obj, key);
      }
      break;
    case Value::Kind::Object:
      if (key.is_string() || key.is_number() || key.is_none()) {
        if (const Value* v = obj.as_object().find(dict_key(key))) return *v;
      }
      break;
    default: break;
  }
  // jinja2 falls back to the attribute when the item lookup fails and the key is a string.
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return missing_element(obj, key);
}

Value slice(const Value& obj, const std::optional<Value>& start, const std::optional<Value>& stop,
            const std::optional<Value>& step) {
  if (obj.is_undefined()) fail_undefined(obj);
  auto bound = [](const std::optional<Value>& v) -> std::optional<int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (!is_integral(*v)) throw TemplateError("slice indices must be integers or None, not " + v->type_name());
    return v->as_int();
  };
  const auto step_v = bound(step);
  const int64_t s = step_v.value_or(1);
  if (s == 0) throw TemplateError("slice step cannot be zero");
  std::u32string chars;
  int64_t size = 0;
  if (obj.is_string()) {
    chars = utf8_to_u32(obj.as_string());
    size = static_cast<int64_t>(chars.size());
  } else if (obj.is_sequence()) {
    size = static_cast<int64_t>(obj.as_array().size());
  } else {
    // Unlike obj[key], jinja2 compiles obj[a:b] to plain Python slicing, whose TypeError propagates.
    throw TemplateError("'" + obj.type_name() + "' object is not subscriptable");
  }
  // Python's slice.indices(size).
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v;
    if (x < 0) {
      x += size;
      if (x < 0) x = s < 0 ? -1 : 0;
    } else if (x >= size) {
      x = s < 0 ? size - 1 : size;
    }
    return x;
  };
  const int64_t first = clamp(bound(start), s < 0 ? size - 1 : 0);
  const int64_t last = clamp(bound(stop), s < 0 ? -1 : size);
  std::vector<int64_t> indices;
  for (int64_t i = first; s > 0 ? i < last : i > last; i += s) indices.push_back(i);
  if (obj.is_string()) {
    std::u32string out;
    for (int64_t i : indices) out.push_back(chars[static_cast<size_t>(i)]);
    return Value(u32_to_utf8(out));
  }
  Array out;
  for (int64_t i : indices) out.push_back(obj.as_array()[static_cast<size_t>(i)]);
  return Value(std::move(out), obj.is_tuple());
}

Array iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::Array: return value.as_array();
    case Value::Kind::Object: {
      Array keys;
      for (const auto& [k, v] : value.as_object().entries()) keys.push_back(key_value(k));
      return keys;
    }
    case Value::Kind::String: {
      // One Value per character costs tens of bytes each: a 64 MB string would become gigabytes
      // (fuzz_chat_template: chained `| join(sep)` over a string), so a string iterates only as far as a
      // list may grow. Counted while decoding: stray bytes of invalid UTF-8 are characters here too.
      const std::string& text = value.as_string();
      Array chars;
      for (size_t i = 0; i < text.size();) {
        if (chars.size() == kMaxListItems) {
          throw TemplateError("iterating a string of over " + std::to_string(kMaxListItems) +
                              " characters is over the template limit of " + std::to_string(kMaxListItems) + " items");
        }
        const auto [cp, bytes] = decode_utf8_at(text, i);
        std::string one;
        append_utf8(one, cp);  // a stray byte becomes the character it stands for, as utf8_to_u32 reads it
        chars.emplace_back(std::move(one));
        i += bytes;
      }
      return chars;
    }
    default: throw TemplateError("'" + value.type_name() + "' object is not iterable");
  }
}

int64_t length_of(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_length(value.as_string()));
    case Value::Kind::Array:
      if (value.is_lazy()) break;
      return static_cast<int64_t>(value.as_array().size());
    case Value::Kind::Object: return static_cast<int64_t>(value.as_object().size());
    default: break;
  }
  throw TemplateError("object of type '" + value.type_name() + "' has no len()");
}

Value unary_minus(const Value& operand) {
  if (operand.is_undefined()) fail_undefined(operand);
  if (operand.is_float()) return Value(-operand.as_float());
  if (is_integral(operand)) return Value(checked_sub(0, operand.as_int()));
  throw type_error("bad operand type for unary -: '" + operand.type_name() + "'");
}

Value binary_op(const std::string& op, const Value& left, const Value& right) {
  if (op == "~") {
    std::string joined = to_python_str(left);
    const std::string tail = to_python_str(right);
    check_value_size(joined.size() + tail.size(), "a string");
    return Value(joined + tail);
  }
  if (op == "%" && left.is_string() && !left.is_markup()) return Value(python_percent_format(left.as_string(), right));
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  const bool numbers = left.is_number() && right.is_number();
  const bool ints = is_integral(left) && is_integral(right);
  if (op == "+") {
    if (ints) return Value(checked_add(left.as_int(), right.as_int()));
    if (numbers) return Value(left.as_float() + right.as_float());
    if (left.is_markup() || right.is_markup()) {  // Markup + str escapes the plain side, as markupsafe does
      if (left.is_string() && right.is_string()) {
        return Value::markup((left.is_markup() ? left.as_string() : html_escape(left.as_string())) +
                             (right.is_markup() ? right.as_string() : html_escape(right.as_string())));
      }
    } else if (left.is_string() && right.is_string()) {
      check_value_size(left.as_string().size() + right.as_string().size(), "a string");
      return Value(left.as_string() + right.as_string());
    }
    if (left.is_sequence() && right.is_sequence() && left.is_tuple() == right.is_tuple()) {
      check_value_size(left.as_array().size() + right.as_array().size(), "a list", kMaxListItems);
      Array out = left.as_array();
      out.insert(out.end(), right.as_array().begin(), right.as_array().end());
      return Value(std::move(out), left.is_tuple());
    }
    if (left.is_string() && !left.is_markup()) {
      throw type_error("can only concatenate str (not \"" + right.type_name() + "\") to str");
    }
    if (left.is_list()) {
      throw type_error("can only concatenate list (not \"" + right.type_name() + "\") to list");
    }
  } else if (op == "-") {
    if (ints) return Value(checked_sub(left.as_int(), right.as_int()));
    if (numbers) return Value(left.as_float() - right.as_float());
  } else if (op == "*") {
    if (ints) return Value(checked_mul(left.as_int(), right.as_int()));
    if (numbers) return Value(left.as_float() * right.as_float());
    if ((left.is_string() || left.is_sequence()) && is_integral(right)) return repeat(left, right.as_int());
    if ((right.is_string() || right.is_sequence()) && is_integral(left)) return repeat(right, left.as_int());
  } else if (op == "/") {
    if (numbers) {
      if (right.as_float() == 0.0) throw TemplateError("division by zero");
      return Value(left.as_float() / right.as_float());
    }
  } else if (op == "//") {
    if (ints) {
      if (right.as_int() == 0) throw TemplateError("integer division or modulo by zero");
      return Value(floor_div(left.as_int(), right.as_int()));
    }
    if (numbers) {
      if (right.as_float() == 0.0) throw TemplateError("float floor division by zero");
      return Value(std::floor(left.as_float() / right.as_float()));
    }
  } else if (op == "%") {
    if (ints) {
      if (right.as_int() == 0) throw TemplateError("integer division or modulo by zero");
      if (right.as_int() == -1) return Value(int64_t{0});  // also INT64_MIN % -1, whose quotient overflows
      return Value(left.as_int() - floor_div(left.as_int(), right.as_int()) * right.as_int());
    }
    if (numbers) {
      const double b = right.as_float();
      if (b == 0.0) throw TemplateError("float modulo");
      double m = std::fmod(left.as_float(), b);
      if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
      if (m == 0.0) m = std::copysign(0.0, b);  // Python's zero takes the divisor's sign
      return Value(m);
    }
    if (left.is_string()) return Value(python_percent_format(left.as_string(), right));
  } else if (op == "**") {
    if (ints && right.as_int() >= 0) return Value(checked_power(left.as_int(), right.as_int()));
    if (numbers) {
      if (left.as_float() == 0.0 && right.as_float() < 0) {
        throw TemplateError("0.0 cannot be raised to a negative power");
      }
      return Value(std::pow(left.as_float(), right.as_float()));
    }
  }
  throw type_error("unsupported operand type(s) for " + op + ": " + operand_types(left, right));
}

int python_compare(const Value& left, const Value& right) {
  if (left.is_undefined()) fail_undefined(left);
  if (right.is_undefined()) fail_undefined(right);
  if (left.is_number() && right.is_number()) {
    if (is_integral(left) && is_integral(right)) return left.as_int() < right.as_int() ? -1 : left.as_int() > right.as_int();
    return left.as_float() < right.as_float() ? -1 : left.as_float() > right.as_float();
  }
  if (left.is_string() && right.is_string()) {
    const int c = left.as_string().compare(right.as_string());  // UTF-8 byte order is code-point order
    return c < 0 ? -1 : c > 0;
  }
  if (left.is_sequence() && right.is_sequence() && left.is_tuple() == right.is_tuple()) {
    const Array& a = left.as_array();
    const Array& b = right.as_array();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (a[i].equals(b[i])) continue;
      return python_compare(a[i], b[i]);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size();
  }
  throw TemplateError("'<' not supported between instances of '" + left.type_name() + "' and '" +
                      right.type_name() + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) {
        if (item.is_undefined()) fail_undefined(item);
        throw TemplateError("'in <string>' requires string as left operand, not " + item.type_name());
      }
      return TextSearch(item.as_string()).find_in(container.as_string()) != TextSearch::npos;
    case Value::Kind::Array:
      for (const Value& v : container.as_array()) {
        if (v.equals(item)) return true;
      }
      return false;
    case Value::Kind::Object:
      if (item.is_undefined()) return false;
      return container.as_object().find(dict_key(item)) != nullptr;
    default:
      throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

bool compare_op(const std::string& op, const Value& left, const Value& right) {
  if (op == "==") return left.equals(right);
  if (op == "!=") return !left.equals(right);
  if (op == "in") return contains(right, left);
  if (op == "not in") return !contains(right, left);
  const int c = python_compare(left, right);
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == ">=") return c >= 0;
  throw TemplateError("unknown comparison operator " + op);
}

Value call_value(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (!callee.is_callable()) throw TemplateError("'" + callee.type_name() + "' object is not callable");
  if (args.callee.empty()) args.callee = callee.as_callable().name;
  return callee.as_callable().fn(args);
}

}  // namespace sabre::chat
