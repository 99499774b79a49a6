#pragma once
// A compiled Jinja template: parse once, render many times with different variables.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/chat/ast.hpp"
#include "model/chat/lexer.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/value.hpp"

namespace sabre::chat {

class Template {
 public:
  // Throws TemplateError with line and column for a syntax error. `origin` names the template in
  // error messages (e.g. "chat template of /models/qwen3/tokenizer_config.json").
  static Template parse(std::string_view source, std::string origin = "template", LexerOptions options = {});

  // Renders with `variables` visible to the template (they shadow the built-in globals). Throws
  // TemplateError saying where and what on any runtime error, including raise_exception(...), and when
  // the render's work passes `max_work` (limits.hpp).
  std::string render(const Object& variables, size_t max_work = kMaxRenderWork) const;

  const std::string& origin() const { return *origin_; }

 private:
  struct Compiled {
    Body body;
    std::vector<std::string> root_missing;  // top-level names that start undefined (scopes.hpp)
  };
  Template(std::shared_ptr<const Compiled> compiled, std::shared_ptr<const std::string> origin)
      : compiled_(std::move(compiled)), origin_(std::move(origin)) {}
  std::shared_ptr<const Compiled> compiled_;
  std::shared_ptr<const std::string> origin_;
};

}  // namespace sabre::chat
