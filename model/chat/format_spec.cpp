// Python's format-spec mini-language ("{:>8.2f}" in str.format): fill, align, sign, #, 0, width,
// grouping, precision and the s d b o x X c e E f F g G % types.

#include <cmath>
#include <cstdio>

#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

struct Spec {
  std::string fill = " ";
  char align = '\0';
  char sign = '-';
  bool alternate = false;
  int width = -1;
  char grouping = '\0';
  int precision = -1;
  char type = '\0';
};

Spec parse_spec(std::string_view text) {
  Spec spec;
  const std::u32string s = utf8_to_u32(text);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '=' || c == '^'; };
  if (s.size() >= 2 && is_align(s[1])) {
    spec.fill = u32_to_utf8(s.substr(0, 1));
    spec.align = static_cast<char>(s[1]);
    i = 2;
  } else if (!s.empty() && is_align(s[0])) {
    spec.align = static_cast<char>(s[0]);
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '#') {
    spec.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    if (!spec.align) {
      spec.fill.assign(1, '0');
      spec.align = '=';
    }
    ++i;
  }
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') spec.width = accumulate_digit(std::max(spec.width, 0), s[i++]);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) spec.grouping = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '.') {
    ++i;
    spec.precision = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') spec.precision = accumulate_digit(spec.precision, s[i++]);
  }
  if (i < s.size()) spec.type = static_cast<char>(s[i++]);
  if (i != s.size()) {
    std::string message = "Invalid format specifier '";  // appended piecewise: g++ 12 misreports "lit" + string
    message.append(text);
    message.push_back('\'');
    throw TemplateError(message);
  }
  return spec;
}

std::string group_digits(const std::string& digits, char separator) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

// Pads `body` (with its sign already split off into `sign`) to the spec's width.
std::string align(const Spec& spec, const std::string& sign, const std::string& body, char default_align) {
  const char a = spec.align ? spec.align : default_align;
  const int length = static_cast<int>(utf8_length(sign) + utf8_length(body));
  const int missing = std::max(0, spec.width - length);
  std::string fill;
  for (int i = 0; i < missing; ++i) fill += spec.fill;
  switch (a) {
    case '<': return sign + body + fill;
    case '>': return fill + sign + body;
    case '=': return sign + fill + body;
    default: {  // '^'
      std::string left, right;
      for (int i = 0; i < missing / 2; ++i) left += spec.fill;
      for (int i = 0; i < missing - missing / 2; ++i) right += spec.fill;
      return left + sign + body + right;
    }
  }
}

std::string format_integer(const Spec& spec, int64_t v) {
  const bool negative = v < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string digits;
  const char type = spec.type ? spec.type : 'd';
  if (type == 'c') return align(spec, "", u32_to_utf8(std::u32string(1, static_cast<char32_t>(v))), '<');
  const int base = type == 'b' ? 2 : type == 'o' ? 8 : (type == 'x' || type == 'X') ? 16 : 10;
  const char* alphabet = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  uint64_t m = magnitude;
  do {
    digits.insert(digits.begin(), alphabet[m % base]);
    m /= base;
  } while (m);
  if (spec.grouping) digits = group_digits(digits, spec.grouping);
  std::string sign = negative ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
  if (spec.alternate && base != 10) sign += type == 'b' ? "0b" : type == 'o' ? "0o" : type == 'X' ? "0X" : "0x";
  return align(spec, sign, digits, '>');
}

std::string format_float(const Spec& spec, double d) {
  const char type = spec.type;
  std::string body;
  if (type == '\0' && spec.precision < 0) {
    body = python_float_repr(std::fabs(d));
  } else {
    char conversion = type == '\0' ? 'g' : type == '%' ? 'f' : type;
    const double shown = type == '%' ? std::fabs(d) * 100 : std::fabs(d);
    const int precision = spec.precision < 0 ? 6 : spec.precision;
    char buf[512];
    const std::string format = std::string(spec.alternate ? "%#." : "%.") + std::to_string(precision) + conversion;
    std::snprintf(buf, sizeof buf, format.c_str(), shown);
    body = buf;
    if (type == '\0' && body.find_first_of(".eEin") == std::string::npos) body += ".0";
    if (type == '%') body += "%";
  }
  if (spec.grouping) {
    const size_t end = body.find_first_not_of("0123456789");
    body = group_digits(body.substr(0, end), spec.grouping) + (end == std::string::npos ? "" : body.substr(end));
  }
  const bool negative = std::signbit(d) && !std::isnan(d);
  const std::string sign = negative ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
  return align(spec, sign, body, '>');
}

}  // namespace

std::string python_format_value(const Value& value, std::string_view spec_text) {
  if (spec_text.empty()) return to_python_str(value);
  const Spec spec = parse_spec(spec_text);
  if (value.is_string()) {
    if (spec.type && spec.type != 's') {
      throw TemplateError(std::string("Unknown format code '") + spec.type + "' for object of type 'str'");
    }
    std::string text = value.as_string();
    if (spec.precision >= 0) text = u32_to_utf8(utf8_to_u32(text).substr(0, static_cast<size_t>(spec.precision)));
    return align(spec, "", text, '<');
  }
  if (value.is_int() || value.is_bool()) {
    if (std::string_view("eEfFgG%").find(spec.type) != std::string_view::npos && spec.type) {
      return format_float(spec, static_cast<double>(value.as_int()));
    }
    if (spec.type == '\0' && value.is_bool() && spec.sign == '-' && !spec.grouping) {
      return align(spec, "", value.as_bool() ? "True" : "False", '<');  // bool.__format__ with no type is str()
    }
    return format_integer(spec, value.as_int());
  }
  if (value.is_float()) {
    if (spec.type && std::string_view("eEfFgG%").find(spec.type) == std::string_view::npos) {
      throw TemplateError(std::string("Unknown format code '") + spec.type + "' for object of type 'float'");
    }
    return format_float(spec, value.as_float());
  }
  throw TemplateError("unsupported format string passed to " + value.type_name() + ".__format__");
}

}  // namespace sabre::chat
