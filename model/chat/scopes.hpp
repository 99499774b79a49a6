#pragma once
// jinja2 decides at compile time which names belong to which scope, and that shows at run time: a
// name assigned by a plain `set` in a scope (not first read there, not inside an if) hides the
// outer value of that name from nested scopes until the assignment runs, so a loop or macro that
// reads it earlier gets an undefined value rather than the template variable of the same name:
//     {% for x in xs %}{{ n }}{% endfor %}{% set n = 5 %}   prints nothing for n, whatever n is passed.
// resolve_scopes() finds those names for every scope, so the interpreter can start each frame with
// them undefined.

#include <string>
#include <vector>

#include "model/chat/ast.hpp"

namespace sabre::chat {

// Fills Stmt::initially_missing / else_initially_missing for every nested scope and returns the
// names that start undefined in the template's top-level scope.
std::vector<std::string> resolve_scopes(Body& root);

}  // namespace sabre::chat
