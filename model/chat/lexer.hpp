#pragma once
// Splits template source into tokens the way jinja2's lexer does under transformers' settings:
// newlines normalised to "\n", one trailing newline dropped, `-` and `+` whitespace control,
// trim_blocks (drop the newline after a block or comment tag) and lstrip_blocks (drop the indentation
// before a block or comment tag), {% raw %} sections, and comments removed.

#include <string>
#include <string_view>
#include <vector>

#include "model/chat/error.hpp"

namespace sabre::chat {

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

struct Token {
  enum class Type { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float,
                    Operator, End };
  Type type;
  std::string text;  // data text, name, decoded string literal, number text or operator
  SourcePos pos;
};

// Throws TemplateError (located, prefixed with `origin`) on an unterminated tag, comment or string.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options, const std::string& origin);

}  // namespace sabre::chat
