#pragma once
// How values become text: Python's str() and repr() (what `{{ x }}` prints under jinja2) and
// json.dumps (what transformers' `tojson` filter returns).

#include <optional>
#include <string>

#include "model/chat/value.hpp"

namespace sabre::chat {

// Python's str(x): strings as they are, undefined as "", everything else as repr.
std::string to_python_str(const Value& value);
// Python's repr(x): 'quoted' strings, [1, 'a'], {'k': None}, (1,), True, 1.0, 1e+16.
std::string python_repr(const Value& value);
// Python's repr of a float: the shortest text that reads back the same number.
std::string python_float_repr(double value);

// Python's `fmt % arguments`: a tuple gives the positional values, a dict serves %(key)s, anything
// else is the single value. Throws TemplateError as Python raises TypeError/ValueError.
std::string python_percent_format(const std::string& fmt, const Value& arguments);

// format(value, spec) with Python's format-spec mini-language, as str.format applies it per field.
std::string python_format_value(const Value& value, std::string_view spec);

// markupsafe's escape(): & < > " ' as HTML entities.
std::string html_escape(const std::string& text);

// json.dumps options that transformers' tojson filter exposes.
struct JsonStyle {
  std::optional<std::string> indent;  // None: one line; else the text repeated per nesting level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps(value, ...). Throws TemplateError for values JSON cannot hold (undefined, functions).
std::string to_json(const Value& value, const JsonStyle& style);

}  // namespace sabre::chat
