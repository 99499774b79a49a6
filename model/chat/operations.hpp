#pragma once
// Python semantics of the operators and access paths a template uses: attribute and item lookup as
// jinja2 does it (attribute first for `.x`, item first for `[x]`), slicing, arithmetic, comparison,
// membership, iteration and calls.

#include <optional>
#include <string>
#include <vector>

#include "model/chat/value.hpp"

namespace sabre::chat {

// `obj.name` in a template. Missing attributes give an undefined value; a use of an undefined `obj`
// throws its hint.
Value get_attribute(const Value& obj, const std::string& name);
// `obj[key]` in a template.
Value get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]`; absent parts are nullopt.
Value slice(const Value& obj, const std::optional<Value>& start, const std::optional<Value>& stop,
            const std::optional<Value>& step);

// The items a `for` loop visits: list items, dict keys, string characters, nothing for undefined.
// Throws TemplateError for values Python cannot iterate.
Array iterate(const Value& value);
// Python's len(); throws for values without a length.
int64_t length_of(const Value& value);

// Binary arithmetic: + - * / // % ** and ~ (string concatenation).
Value binary_op(const std::string& op, const Value& left, const Value& right);
Value unary_minus(const Value& operand);
// ==, !=, <, <=, >, >=, in, not in.
bool compare_op(const std::string& op, const Value& left, const Value& right);
// Python's ordering for sort and comparisons (numbers, strings, sequences); throws for unordered types.
int python_compare(const Value& left, const Value& right);
bool contains(const Value& container, const Value& item);

// Calls a callable value; undefined and non-callables throw.
Value call_value(const Value& callee, CallArgs& args);

// Throws the error an undefined value stands for when it is used where a real value is needed.
[[noreturn]] void fail_undefined(const Value& undefined);

}  // namespace sabre::chat
