#pragma once
// The parsed form of a template: expressions and statements, each remembering where it came from so
// that runtime errors can say "line L, column C".

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/chat/error.hpp"
#include "model/chat/value.hpp"

namespace sabre::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind {
    Literal,      // literal
    Name,         // name
    List,         // items
    Tuple,        // items
    Dict,         // items: key, value, key, value, ...
    Attribute,    // a.name
    Subscript,    // a[b]
    Slice,        // a[b:c:d]; missing parts are null
    Call,         // a(items..., kwargs...)
    Filter,       // a | name(items..., kwargs...); a is null inside {% filter %}
    Test,         // a is name(items..., kwargs...); negated for "is not"
    Unary,        // name ("-", "+") applied to a
    Binary,       // a name b, for + - * / // % ** ~
    Compare,      // a ops[0] items[0] ops[1] items[1] ...
    And,          // a and b
    Or,           // a or b
    Not,          // not a
    Conditional,  // a if b else c (c may be null)
  };
  Kind kind;
  SourcePos pos;
  Value literal;
  std::string name;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  ExprPtr a, b, c;
  bool negated = false;

  Expr(Kind k, SourcePos p) : kind(k), pos(p) {}
};

// An assignment target: a name, a tuple of names, or `namespace.attribute`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  std::string attribute;           // non-empty for `ns.attr`; names[0] is then the namespace
  bool is_tuple = false;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Stmt {
  enum class Kind {
    Data,         // text
    Print,        // {{ expr }}
    If,           // branches (cond, body), else_body
    For,          // target in expr [if condition] body [else else_body]
    Set,          // target = expr
    SetBlock,     // {% set target %}body{% endset %}, optionally filtered by expr
    Macro,        // name(params) body
    CallBlock,    // {% call(params) expr %}body{% endcall %}
    FilterBlock,  // {% filter expr %}body{% endfilter %}
    Break,
    Continue,
    Generation,   // {% generation %}body{% endgeneration %} (transformers' assistant-mask marker)
  };
  Kind kind;
  SourcePos pos;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  Target target;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<MacroParam> params;
  // Macros whose body names `varargs` / `kwargs` accept extra positional / keyword arguments.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  // Names this statement's scope (loop body, macro, block) starts undefined; see scopes.hpp.
  std::vector<std::string> initially_missing;
  std::vector<std::string> else_initially_missing;  // for a for-loop's else block

  Stmt(Kind k, SourcePos p) : kind(k), pos(p) {}
};

}  // namespace sabre::chat
