// Python's printf-style formatting (`'%s: %d' % (name, n)` and the `format` filter), for the
// conversions chat templates use: s r d i f F e E g G x X o c and %%, with flags, width, precision
// and `%(key)s` lookups in a dict.

#include <cmath>
#include <cstdio>

#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/utf8.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

std::string pad(std::string text, const std::string& flags, int width) {
  const int length = static_cast<int>(utf8_length(text));
  if (width <= length) return text;
  const std::string fill(static_cast<size_t>(width - length), ' ');
  return flags.find('-') != std::string::npos ? text + fill : fill + text;
}

// "%<flags><width>.<precision><length><conversion>" for snprintf. Built by appending, which also keeps
// g++ 12's false -Wrestrict alarm about `"." + std::string` quiet.
std::string c_spec(const std::string& flags, int width, int precision, const char* length, char conversion) {
  std::string spec(1, '%');
  spec.append(flags);
  if (width >= 0) spec.append(std::to_string(width));
  if (precision >= 0) {
    spec.push_back('.');
    spec.append(std::to_string(precision));
  }
  spec.append(length);
  spec.push_back(conversion);
  return spec;
}

std::string c_format(const std::string& flags, int width, int precision, char conversion, double d) {
  const std::string spec = c_spec(flags, width, precision, "", conversion);
  char buf[512];
  std::snprintf(buf, sizeof buf, spec.c_str(), d);
  return buf;
}

std::string c_format_int(const std::string& flags, int width, int precision, char conversion, int64_t v) {
  const std::string spec = c_spec(flags, width, precision, "ll", conversion);
  char buf[512];
  std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<long long>(v));
  return buf;
}

}  // namespace

std::string python_percent_format(const std::string& fmt, const Value& arguments) {
  const bool mapping = arguments.is_object();
  Array positional;
  if (arguments.is_tuple()) positional = arguments.as_array();
  else if (!mapping) positional.push_back(arguments);
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) throw TemplateError("incomplete format");
    std::optional<Value> value;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) throw TemplateError("incomplete format key");
      if (!mapping) throw TemplateError("format requires a mapping");
      const std::string key = fmt.substr(i + 1, close - i - 1);
      const Value* found = arguments.as_object().find(key);
      if (!found) throw TemplateError("KeyError: '" + key + "'");
      value = *found;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ 0#").find(fmt[i]) != std::string::npos) flags.push_back(fmt[i++]);
    int width = -1;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width = accumulate_digit(std::max(width, 0), fmt[i++]);
    int precision = -1;
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = 0;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) precision = accumulate_digit(precision, fmt[i++]);
    }
    if (i >= fmt.size()) throw TemplateError("incomplete format");
    const char conversion = fmt[i];
    if (conversion == '%') {
      out.push_back('%');
      continue;
    }
    if (!value) {
      if (mapping) throw TemplateError("format requires a mapping");
      if (next >= positional.size()) throw TemplateError("not enough arguments for format string");
      value = positional[next++];
    }
    const Value& v = *value;
    switch (conversion) {
      case 's': {
        std::string text = to_python_str(v);
        if (precision >= 0) text = u32_to_utf8(utf8_to_u32(text).substr(0, static_cast<size_t>(precision)));
        out += pad(std::move(text), flags, width);
        break;
      }
      case 'r': out += pad(python_repr(v), flags, width); break;
      case 'd': case 'i': case 'x': case 'X': case 'o': {
        if (!v.is_number()) {
          throw TemplateError(std::string("%") + conversion + " format: a real number is required, not " + v.type_name());
        }
        const int64_t n = v.is_float() ? static_cast<int64_t>(std::trunc(v.as_float())) : v.as_int();
        out += c_format_int(flags, width, precision, conversion == 'i' ? 'd' : conversion, n);
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        if (!v.is_number()) throw TemplateError("must be real number, not " + v.type_name());
        out += c_format(flags, width, precision < 0 ? 6 : precision, conversion, v.as_float());
        break;
      case 'c': {
        std::string text;
        if (v.is_string() && utf8_length(v.as_string()) == 1) text = v.as_string();
        else if (v.is_int()) append_utf8(text, static_cast<char32_t>(v.as_int()));
        else throw TemplateError("%c requires an int or a unicode character");
        out += pad(std::move(text), flags, width);
        break;
      }
      default:
        throw TemplateError(std::string("unsupported format character '") + conversion + "'");
    }
  }
  // CPython skips this check when the argument supports item access (a list or dict, not a tuple).
  const bool indexable = mapping || arguments.is_undefined() || (arguments.is_array() && !arguments.is_tuple());
  if (!indexable && next < positional.size()) throw TemplateError("not all arguments converted during string formatting");
  return out;
}

}  // namespace sabre::chat
