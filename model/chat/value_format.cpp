#include "model/chat/value_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/utf8.hpp"

namespace sabre::chat {

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest round-trip digits, in scientific form "d.ddde±XX", then laid out as Python does:
  // fixed notation for exponents -4..15, scientific otherwise.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string sci(buf, end);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = !mantissa.empty() && mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out += digits + std::string(int_digits - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_digits) + "." + digits.substr(int_digits);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1, std::string::npos);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

namespace {

// Python's str.isprintable() for the code points chat text is likely to hold: controls, the Unicode
// format characters (zero-width joiners, bidi marks, BOM) and non-ASCII spaces are not printable.
bool python_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp <= 0xA0) return false;
  if (cp == 0xAD || cp == 0x1680 || cp == 0x180E || cp == 0xFEFF || cp == 0x3000) return false;
  if ((cp >= 0x0600 && cp <= 0x0605) || cp == 0x061C || cp == 0x06DD || cp == 0x070F || cp == 0x08E2) return false;
  if (cp == 0x110BD || cp == 0x110CD || (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A)) return false;
  if (cp >= 0x2000 && cp <= 0x200F) return false;
  if (cp >= 0x2028 && cp <= 0x202F) return false;
  if (cp >= 0x205F && cp <= 0x206F) return false;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;  // private use
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return false;
  if (cp >= 0xE0000) return false;
  return true;
}

void append_hex_escape(std::string& out, char32_t cp) {
  char buf[16];
  if (cp < 0x100) {
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
  }
  out += buf;
}

// Where the run of printable ASCII starting at `pos` ends: characters that Python's repr and json.dumps
// both write as they are (so neither `quote`, a backslash nor a control character).
size_t end_of_plain_ascii(std::string_view text, size_t pos, char quote) {
  while (pos < text.size() && text[pos] >= 0x20 && text[pos] < 0x7F && text[pos] != quote && text[pos] != '\\') ++pos;
  return pos;
}

void append_string_repr(std::string& out, std::string_view text) {
  // Python prefers single quotes and switches to double quotes when only single quotes occur.
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out.push_back(quote);
  for (size_t i = 0; i < text.size();) {
    const size_t plain_end = end_of_plain_ascii(text, i, quote);  // most text: copied as it is, in one go
    out.append(text, i, plain_end - i);
    i = plain_end;
    if (i == text.size()) break;
    const auto [cp, length] = decode_utf8_at(text, i);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!python_printable(cp)) {
      append_hex_escape(out, cp);
    } else {
      append_utf8(out, cp);
    }
    i += length;
  }
  out.push_back(quote);
}

// Values nest only as deep as the template's literals and namespaces make them; deeper means a
// namespace that holds itself, which would recurse for ever.
void check_print_depth(int depth) {
  if (depth > kMaxNesting) throw TemplateError("a value nested over " + std::to_string(kMaxNesting) + " deep cannot be printed");
}

// Writes into the one buffer for the whole value, as append_json does: a string per nesting level
// copied into its parent's would cost the output size once per level.
void append_repr(std::string& out, const Value& value, int depth) {
  check_print_depth(depth);
  check_value_size(out.size(), "printed text");
  switch (value.kind()) {
    case Value::Kind::Undefined: out += "Undefined"; return;  // repr(); str() of undefined is ""
    case Value::Kind::None: out += "None"; return;
    case Value::Kind::Bool: out += value.as_bool() ? "True" : "False"; return;
    case Value::Kind::Int: out += std::to_string(value.as_int()); return;
    case Value::Kind::Float: out += python_float_repr(value.as_float()); return;
    case Value::Kind::String:
      if (value.is_markup()) out += "Markup(";
      append_string_repr(out, value.as_string());
      if (value.is_markup()) out += ")";
      return;
    case Value::Kind::Array: {
      if (value.is_lazy()) {  // Python adds the object's address, which no one can match
        out.push_back('<');  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "<" + std::string
        out += value.type_name();
        out += " object>";
        return;
      }
      if (!value.is_sequence()) {  // dict_items([...]) and friends
        out += value.type_name();
        out.push_back('(');
      }
      out += value.is_tuple() ? "(" : "[";
      const Array& items = value.as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(out, items[i], depth + 1);
      }
      if (value.is_tuple() && items.size() == 1) out += ",";
      out += value.is_tuple() ? ")" : "]";
      if (!value.is_sequence()) out += ")";
      return;
    }
    case Value::Kind::Object:
    case Value::Kind::Namespace: {
      out += value.is_namespace() ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, v] : value.as_object().entries()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, key_value(k), depth + 1);
        out += ": ";
        append_repr(out, v, depth + 1);
      }
      out += value.is_namespace() ? "}>" : "}";
      return;
    }
    case Value::Kind::Callable:
      out += "<built-in function ";
      out += value.as_callable().name;
      out.push_back('>');
      return;
  }
}

}  // namespace

std::string python_repr(const Value& value) {
  std::string out;
  append_repr(out, value, 0);
  check_value_size(out.size(), "printed text");
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string to_python_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  if (value.is_undefined()) return "";
  return python_repr(value);
}

namespace {

void append_json_string(std::string& out, std::string_view text, bool ensure_ascii) {
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const size_t plain_end = end_of_plain_ascii(text, i, '"');
    out.append(text, i, plain_end - i);
    i = plain_end;
    if (i == text.size()) break;
    const auto [cp, length] = decode_utf8_at(text, i);
    i += length;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {  // json.dumps writes astral code points as a UTF-16 surrogate pair
        const char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      append_utf8(out, cp);
    }
  }
  out.push_back('"');
}

void append_json(std::string& out, const Value& value, const JsonStyle& style, int depth) {
  check_print_depth(depth);
  check_value_size(out.size(), "JSON text");
  const auto newline = [&](int level) {
    out.push_back('\n');
    // A long indent string nested deep would otherwise pass the bound many times over before the next check.
    check_value_size(out.size() + static_cast<size_t>(level) * style.indent->size(), "JSON text");
    for (int i = 0; i < level; ++i) out += *style.indent;
  };
  switch (value.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(value.as_int()); return;
    case Value::Kind::Float: {
      const double d = value.as_float();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float_repr(d);
      return;
    }
    case Value::Kind::String: append_json_string(out, value.as_string(), style.ensure_ascii); return;
    case Value::Kind::Array: {
      if (!value.is_sequence()) {
        throw TemplateError("Object of type " + value.type_name() + " is not JSON serializable");
      }
      const Array& items = value.as_array();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_separator;
        if (style.indent) newline(depth + 1);
        append_json(out, items[i], style, depth + 1);
      }
      if (style.indent) newline(depth);
      out.push_back(']');
      return;
    }
    case Value::Kind::Object: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& entry : value.as_object().entries()) entries.push_back(&entry);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (style.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      out.push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += style.item_separator;
        if (style.indent) newline(depth + 1);
        // json.dumps writes non-string keys as their JSON text: 512 -> "512", None -> "null".
        const Value key = key_value(entries[i]->first);
        append_json_string(out, key.is_string() ? key.as_string() : to_json(key, style), style.ensure_ascii);
        out += style.key_separator;
        append_json(out, entries[i]->second, style, depth + 1);
      }
      if (style.indent) newline(depth);
      out.push_back('}');
      return;
    }
    default:
      throw TemplateError("Object of type " + value.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& value, const JsonStyle& style) {
  std::string out;
  append_json(out, value, style, 0);
  return out;
}

}  // namespace sabre::chat
