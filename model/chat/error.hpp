#pragma once
// The one error type a chat template raises: a syntax error found while parsing, or a runtime error
// (undefined value misused, type error, raise_exception(...)) found while rendering. Once the
// interpreter knows where it happened, the message says so ("line 3, column 12: ...").

#include <stdexcept>
#include <string>

namespace sabre::chat {

class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& message, bool located = false)
      : std::runtime_error(message), located_(located) {}
  bool located() const { return located_; }

 private:
  bool located_;
};

// A position in the template source, 1-based.
struct SourcePos {
  int line = 1;
  int column = 1;
};

// "<origin> line L, column C: <message>", marked as located so outer frames leave it alone.
TemplateError located_error(const std::string& origin, SourcePos pos, const std::string& message);

}  // namespace sabre::chat
