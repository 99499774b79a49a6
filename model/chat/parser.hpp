#pragma once
// Builds the statement tree from tokens, following jinja2's grammar and operator precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix, filters and tests).

#include <string>
#include <vector>

#include "model/chat/ast.hpp"
#include "model/chat/lexer.hpp"

namespace sabre::chat {

// Throws TemplateError with line and column on a syntax error, an unknown tag, filter or test.
Body parse_template(const std::vector<Token>& tokens, const std::string& origin);

}  // namespace sabre::chat
