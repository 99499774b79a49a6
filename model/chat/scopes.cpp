#include "model/chat/scopes.hpp"

#include <map>
#include <set>

namespace sabre::chat {

namespace {

using Names = std::set<std::string>;

void collect_loads(const Expr* e, Names& out) {
  if (!e) return;
  if (e->kind == Expr::Kind::Name) out.insert(e->name);
  collect_loads(e->a.get(), out);
  collect_loads(e->b.get(), out);
  collect_loads(e->c.get(), out);
  for (const ExprPtr& item : e->items) collect_loads(item.get(), out);
  for (const auto& [k, v] : e->kwargs) collect_loads(v.get(), out);
}

// The symbols of one scope, in the order jinja2's analysis meets them.
struct Scope {
  Names refs;          // names read or assigned directly in this scope
  Names store_first;   // assigned before any read, outside if-branches
  std::vector<Stmt*> nested;  // statements that open scopes of their own

  void load(const Expr* e) {
    Names names;
    collect_loads(e, names);
    refs.insert(names.begin(), names.end());
  }
  void store(const std::string& name, bool in_branch) {
    if (refs.insert(name).second && !in_branch) store_first.insert(name);
  }
  void param(const std::string& name) { refs.insert(name); }

  void scan(Body& body, bool in_branch) {
    for (StmtPtr& s : body) {
      switch (s->kind) {
        case Stmt::Kind::Print: load(s->expr.get()); break;
        case Stmt::Kind::If:
          // A name assigned in some branch only is read from outside until assigned; jinja2's elif
          // chains make that true of every branch, so if-blocks never start names undefined.
          for (auto& [cond, branch] : s->branches) {
            load(cond.get());
            scan(branch, true);
          }
          scan(s->else_body, true);
          break;
        case Stmt::Kind::For:
          load(s->expr.get());  // the iterable belongs to the enclosing scope
          nested.push_back(s.get());
          break;
        case Stmt::Kind::Set:
          load(s->expr.get());
          if (!s->target.attribute.empty()) {
            refs.insert(s->target.names[0]);  // ns.attr = ... reads ns
          } else {
            for (const std::string& n : s->target.names) store(n, in_branch);
          }
          break;
        case Stmt::Kind::SetBlock:
          store(s->target.names[0], in_branch);
          nested.push_back(s.get());
          break;
        case Stmt::Kind::Macro:
          store(s->text, in_branch);
          nested.push_back(s.get());
          break;
        case Stmt::Kind::CallBlock:
          load(s->expr.get());
          nested.push_back(s.get());
          break;
        case Stmt::Kind::FilterBlock:
          load(s->expr.get());
          nested.push_back(s.get());
          break;
        case Stmt::Kind::Generation: nested.push_back(s.get()); break;
        case Stmt::Kind::Data:
        case Stmt::Kind::Break:
        case Stmt::Kind::Continue: break;
      }
    }
  }
};

std::vector<std::string> missing_names(const Scope& scope, const std::vector<const Names*>& ancestors) {
  std::vector<std::string> out;
  for (const std::string& name : scope.store_first) {
    bool seen_outside = false;
    for (const Names* outer : ancestors) seen_outside = seen_outside || outer->count(name);
    if (!seen_outside) out.push_back(name);
  }
  return out;
}

void analyze_nested(const Scope& scope, std::vector<const Names*> ancestors);

// One scope: its parameters (bound before the body runs), the loads its header makes, its body.
std::vector<std::string> analyze(Body& body, const std::vector<std::string>& params,
                                 const std::vector<const Expr*>& header_loads, std::vector<const Names*> ancestors) {
  Scope scope;
  for (const std::string& p : params) scope.param(p);
  for (const Expr* e : header_loads) scope.load(e);
  scope.scan(body, false);
  std::vector<std::string> missing = missing_names(scope, ancestors);
  analyze_nested(scope, ancestors);
  return missing;
}

void analyze_nested(const Scope& scope, std::vector<const Names*> ancestors) {
  ancestors.push_back(&scope.refs);
  for (Stmt* s : scope.nested) {
    switch (s->kind) {
      case Stmt::Kind::For: {
        std::vector<std::string> params = s->target.names;
        params.push_back("loop");
        s->initially_missing = analyze(s->body, params, {s->condition.get()}, ancestors);
        s->else_initially_missing = analyze(s->else_body, {}, {}, ancestors);
        break;
      }
      case Stmt::Kind::Macro:
      case Stmt::Kind::CallBlock: {
        std::vector<std::string> params{"caller", "varargs", "kwargs"};
        std::vector<const Expr*> defaults;
        for (const MacroParam& p : s->params) {
          params.push_back(p.name);
          defaults.push_back(p.default_value.get());
        }
        s->initially_missing = analyze(s->body, params, defaults, ancestors);
        break;
      }
      default:
        s->initially_missing = analyze(s->body, {}, {}, ancestors);
        break;
    }
  }
}

}  // namespace

std::vector<std::string> resolve_scopes(Body& root) { return analyze(root, {}, {}, {}); }

}  // namespace sabre::chat
