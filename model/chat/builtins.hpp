#pragma once
// What templates can call: jinja2's filters and tests, Python's str/dict/list methods reached through
// attribute access, and the globals transformers installs (range, dict, namespace, raise_exception,
// strftime_now). Each lives in its own .cpp; this header is their common face.

#include <string>
#include <string_view>

#include "model/chat/value.hpp"

namespace sabre::chat {

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
// Applies the filter `name` to `input` with `args` (not counting the input). Throws TemplateError.
Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
bool apply_test(const std::string& name, const Value& input, CallArgs& args);

// The bound method `name` of a str, dict or list, or an undefined value when the type has none.
// Mutating list/dict methods return a callable that refuses, as jinja2's immutable sandbox does.
Value find_method(const Value& object, const std::string& name);

// The globals transformers' environment provides, plus jinja2's range/dict/namespace.
Object make_globals();

}  // namespace sabre::chat
