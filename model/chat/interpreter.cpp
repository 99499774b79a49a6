// Walks the statement tree and writes the output, with jinja2's scoping: each for-loop iteration and
// each macro call gets its own frame (so `set` inside a loop does not leak out, which is why templates
// use namespace()), while if-blocks share the frame around them.

#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>

#include "model/chat/builtins.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/parser.hpp"
#include "model/chat/scopes.hpp"
#include "model/chat/template.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

// Frames live in shared_ptrs so that a macro can hold a weak reference to the frame it was defined
// in (a macro defined in a loop sees that iteration's variables); a strong one would make a cycle, as
// the frame holds the macro.
struct Frame : std::enable_shared_from_this<Frame> {
  Frame(Object v, Frame* p) : vars(std::move(v)), parent(p) {}
  Object vars;
  Frame* parent = nullptr;  // outlives this frame while it executes
};

// A frame for a scope, with the names jinja2 would start undefined there (scopes.hpp) already set.
std::shared_ptr<Frame> child_of(Frame& parent, const std::vector<std::string>& initially_missing = {}) {
  auto frame = std::make_shared<Frame>(Object{}, &parent);
  for (const std::string& name : initially_missing) frame->vars.set(name, Value::undefined("'" + name + "' is undefined"));
  return frame;
}

enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  Renderer(const std::string& origin, Frame& root, size_t max_work)
      : origin_(origin), root_(root), max_work_(max_work) {}

  Flow exec_body(const Body& body, Frame& frame, std::string& out) {
    for (const StmtPtr& stmt : body) {
      const Flow flow = exec(*stmt, frame, out);
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

 private:
  [[noreturn]] void rethrow_located(SourcePos pos) const {
    try {
      throw;
    } catch (const TemplateError& e) {
      if (e.located()) throw;
      throw located_error(origin_, pos, e.what());
    } catch (const std::exception& e) {
      throw located_error(origin_, pos, e.what());
    }
  }

  Flow exec(const Stmt& stmt, Frame& frame, std::string& out) {
    try {
      count_step();
      const Flow flow = exec_unlocated(stmt, frame, out);
      check_value_size(out.size(), "rendered text");
      return flow;
    } catch (...) {
      rethrow_located(stmt.pos);
    }
  }

  void count_step() {
    if (++steps_ > kMaxRenderSteps) {
      throw TemplateError("the template ran too long: over " + std::to_string(kMaxRenderSteps) + " steps");
    }
  }

  // Adds to the render's work (limits.hpp), in bytes.
  void count_work(size_t bytes) {
    work_ += bytes;
    if (work_ > max_work_) {
      throw TemplateError("the template ran too long: it built or read over " + std::to_string(max_work_) +
                          " bytes of values and text");
    }
  }

  void count_work(const Value& value) {
    switch (value.kind()) {
      case Value::Kind::String: count_work(value.as_string().size()); return;
      case Value::Kind::Array: count_work(value.as_array().size() * sizeof(Value)); return;
      case Value::Kind::Object:
      case Value::Kind::Namespace: count_work(value.as_object().size() * sizeof(Value)); return;
      default: return;
    }
  }

  void write(std::string& out, std::string_view text) {
    count_work(text.size());
    out += text;
  }

  // Entered for each macro or caller() call: deep recursion is an error before it is a stack overflow.
  class CallDepth {
   public:
    explicit CallDepth(int& depth) : depth_(depth) {
      if (++depth_ > kMaxCallDepth) {
        --depth_;
        throw TemplateError("macro calls nested over " + std::to_string(kMaxCallDepth) + " deep");
      }
    }
    ~CallDepth() { --depth_; }
    CallDepth(const CallDepth&) = delete;
    CallDepth& operator=(const CallDepth&) = delete;

   private:
    int& depth_;
  };

  Flow exec_unlocated(const Stmt& stmt, Frame& frame, std::string& out) {
    switch (stmt.kind) {
      case Stmt::Kind::Data: write(out, stmt.text); return Flow::Normal;
      case Stmt::Kind::Print: write(out, to_python_str(eval(*stmt.expr, frame))); return Flow::Normal;
      case Stmt::Kind::If:
        for (const auto& [cond, body] : stmt.branches) {
          if (eval(*cond, frame).truthy()) return exec_body(body, frame, out);
        }
        return exec_body(stmt.else_body, frame, out);
      case Stmt::Kind::For: return exec_for(stmt, frame, out);
      case Stmt::Kind::Set: assign(stmt.target, eval(*stmt.expr, frame), frame); return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        // jinja2 compiles block bodies inline: a break or continue inside leaves the loop around it,
        // dropping what the block had captured.
        std::string captured;
        const Flow flow = exec_body(stmt.body, *child_of(frame, stmt.initially_missing), captured);
        if (flow != Flow::Normal) return flow;
        Value value(std::move(captured));
        if (stmt.expr) value = apply_filter_chain(*stmt.expr, std::move(value), frame);
        assign(stmt.target, std::move(value), frame);
        return Flow::Normal;
      }
      case Stmt::Kind::FilterBlock: {
        std::string captured;
        const Flow flow = exec_body(stmt.body, *child_of(frame, stmt.initially_missing), captured);
        if (flow != Flow::Normal) return flow;
        write(out, to_python_str(apply_filter_chain(*stmt.expr, Value(std::move(captured)), frame)));
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: frame.vars.set(stmt.text, make_macro(stmt, frame)); return Flow::Normal;
      case Stmt::Kind::CallBlock: {
        const Expr& call = *stmt.expr;
        Value callee = eval(*call.a, frame);
        CallArgs args = eval_args(call, frame);
        args.keyword.emplace_back("caller", make_caller(stmt, frame));
        write(out, to_python_str(call_value(callee, args)));
        return Flow::Normal;
      }
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::Generation: return exec_body(stmt.body, *child_of(frame, stmt.initially_missing), out);
    }
    return Flow::Normal;
  }

  void bind_target(const Target& target, const Value& value, Frame& frame) {
    if (!target.is_tuple) {
      frame.vars.set(target.names[0], value);
      return;
    }
    const Array items = iterate(value);
    if (items.size() != target.names.size()) {
      throw TemplateError(items.size() > target.names.size()
                              ? "too many values to unpack (expected " + std::to_string(target.names.size()) + ")"
                              : "not enough values to unpack (expected " + std::to_string(target.names.size()) +
                                    ", got " + std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < items.size(); ++i) frame.vars.set(target.names[i], items[i]);
  }

  void assign(const Target& target, Value value, Frame& frame) {
    if (target.attribute.empty()) {
      bind_target(target, value, frame);
      return;
    }
    Value ns = lookup(target.names[0], frame);
    if (!ns.is_namespace()) {
      throw TemplateError("cannot assign attribute on non-namespace object '" + target.names[0] + "'");
    }
    if (!target.attribute.empty() && target.attribute[0] == '_') {
      throw TemplateError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
                          target.attribute + "'.");
    }
    std::unordered_set<const void*> seen;
    if (reaches(value, &ns.as_object(), seen)) {
      throw TemplateError("namespace '" + target.names[0] + "' cannot hold itself (attribute '" + target.attribute + "')");
    }
    ns.as_object().set(target.attribute, std::move(value));
  }

  // Whether `value` is or holds (through lists, dicts and namespaces) the object `target`: a namespace
  // that held itself would be a reference cycle, never freed and printed for ever.
  static bool reaches(const Value& value, const Object* target, std::unordered_set<const void*>& seen) {
    if (value.kind() == Value::Kind::Object || value.kind() == Value::Kind::Namespace) {
      const Object& object = value.as_object();
      if (&object == target) return true;
      if (!seen.insert(&object).second) return false;
      for (const auto& [key, item] : object.entries()) {
        if (reaches(item, target, seen)) return true;
      }
    } else if (value.kind() == Value::Kind::Array) {
      const Array& items = value.as_array();
      if (!seen.insert(&items).second) return false;
      for (const Value& item : items) {
        if (reaches(item, target, seen)) return true;
      }
    }
    return false;
  }

  Flow exec_for(const Stmt& stmt, Frame& frame, std::string& out) {
    Array items = iterate(eval(*stmt.expr, frame));
    if (stmt.condition) {  // `for x in xs if cond` filters before loop.* is computed
      Array kept;
      for (Value& item : items) {
        count_step();
        Frame probe{{}, &frame};
        bind_target(stmt.target, item, probe);
        if (eval(*stmt.condition, probe).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    // jinja2 runs the else block unless some iteration reached the end of the body: an empty loop,
    // but also one whose every iteration ended in continue, or that broke out before finishing one.
    bool completed_an_iteration = false;
    // A break or continue in the else block belongs to the enclosing loop, as in jinja2's Python code.
    const auto run_else = [&] {
      if (completed_an_iteration || stmt.else_body.empty()) return Flow::Normal;
      return exec_body(stmt.else_body, *child_of(frame, stmt.else_initially_missing), out);
    };
    const auto n = static_cast<int64_t>(items.size());
    auto last_changed = std::make_shared<std::optional<Value>>();  // loop.changed() remembers across iterations
    for (int64_t i = 0; i < n; ++i) {
      count_step();
      const std::shared_ptr<Frame> iteration_frame = child_of(frame, stmt.initially_missing);
      Frame& iteration = *iteration_frame;
      Object loop;
      loop.set("index", Value(i + 1));
      loop.set("index0", Value(i));
      loop.set("revindex", Value(n - i));
      loop.set("revindex0", Value(n - i - 1));
      loop.set("first", Value(i == 0));
      loop.set("last", Value(i == n - 1));
      loop.set("length", Value(n));
      loop.set("depth", Value(int64_t{1}));
      loop.set("depth0", Value(int64_t{0}));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
      loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
      loop.set("cycle", Value::callable("cycle", [i](CallArgs& args) {
                 if (args.positional.empty()) throw TemplateError("no items for cycling given");
                 return args.positional[static_cast<size_t>(i) % args.positional.size()];
               }));
      loop.set("changed", Value::callable("changed", [last_changed](CallArgs& args) {
                 Value current = Value::tuple(args.positional);
                 if (*last_changed && (*last_changed)->equals(current)) return Value(false);
                 *last_changed = std::move(current);
                 return Value(true);
               }));
      iteration.vars.set("loop", Value(std::move(loop)));
      bind_target(stmt.target, items[static_cast<size_t>(i)], iteration);
      const Flow flow = exec_body(stmt.body, iteration, out);
      if (flow == Flow::Normal) completed_an_iteration = true;
      if (flow == Flow::Break) break;
    }
    // loop.changed(loop) would leave the remembered value holding the callable that holds it: a cycle.
    last_changed->reset();
    return run_else();
  }

  Value make_macro(const Stmt& stmt, Frame& defined_in) {
    const Stmt* def = &stmt;
    std::weak_ptr<Frame> scope = defined_in.weak_from_this();
    return Value::callable(stmt.text, [this, def, scope](CallArgs& args) {
      const CallDepth depth(call_depth_);
      // Macros see the names of the scope they were defined in, their own parameters and `caller`;
      // one that outlived its scope falls back to the template's top level.
      const std::shared_ptr<Frame> parent = scope.lock();
      const std::shared_ptr<Frame> frame_ptr = child_of(parent ? *parent : root_, def->initially_missing);
      Frame& frame = *frame_ptr;
      if (args.positional.size() > def->params.size() && !def->uses_varargs) {
        throw TemplateError("macro '" + def->text + "' takes not more than " + std::to_string(def->params.size()) +
                            " argument(s)");
      }
      Object extra_keywords;
      for (const auto& [k, v] : args.keyword) {
        bool known = false;
        for (const MacroParam& p : def->params) known = known || p.name == k;
        if (k == "caller") {
          frame.vars.set("caller", v);
        } else if (!known) {
          if (!def->uses_kwargs) throw TemplateError("macro '" + def->text + "' takes no keyword argument '" + k + "'");
          extra_keywords.set(k, v);
        }
      }
      if (def->uses_kwargs) frame.vars.set("kwargs", Value(std::move(extra_keywords)));
      if (def->uses_varargs) {
        Array rest;
        for (size_t i = def->params.size(); i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
        frame.vars.set("varargs", Value::tuple(std::move(rest)));
      }
      for (size_t i = 0; i < def->params.size(); ++i) {
        const MacroParam& p = def->params[i];
        if (auto v = args.get(i, p.name)) {
          frame.vars.set(p.name, *v);
        } else if (p.default_value) {
          frame.vars.set(p.name, eval(*p.default_value, frame));
        } else {
          frame.vars.set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
        }
      }
      std::string out;
      exec_body(def->body, frame, out);
      return Value(std::move(out));
    });
  }

  Value make_caller(const Stmt& stmt, Frame& frame) {
    const Stmt* def = &stmt;
    std::weak_ptr<Frame> scope = frame.weak_from_this();
    return Value::callable("caller", [this, def, scope](CallArgs& args) {
      const CallDepth depth(call_depth_);
      const std::shared_ptr<Frame> outer = scope.lock();
      if (!outer) throw TemplateError("caller() called after its call block ended");
      const std::shared_ptr<Frame> inner_ptr = child_of(*outer, def->initially_missing);
      Frame& inner = *inner_ptr;
      for (size_t i = 0; i < def->params.size(); ++i) {
        const MacroParam& p = def->params[i];
        if (auto v = args.get(i, p.name)) inner.vars.set(p.name, *v);
        else if (p.default_value) inner.vars.set(p.name, eval(*p.default_value, inner));
        else inner.vars.set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
      }
      std::string out;
      exec_body(def->body, inner, out);
      return Value(std::move(out));
    });
  }

  Value lookup(const std::string& name, Frame& frame) const {
    for (Frame* f = &frame; f; f = f->parent) {
      if (const Value* v = f->vars.find(name)) return *v;
    }
    return Value::undefined("'" + name + "' is undefined");
  }

  CallArgs eval_args(const Expr& call, Frame& frame) {
    CallArgs args;
    for (const ExprPtr& e : call.items) args.positional.push_back(eval(*e, frame));
    for (const auto& [k, e] : call.kwargs) args.keyword.emplace_back(k, eval(*e, frame));
    return args;
  }

  // A filter chain whose innermost input is `input` (for {% filter %} and {% set x | f %}).
  Value apply_filter_chain(const Expr& filter, Value input, Frame& frame) {
    Value base = filter.a ? apply_filter_chain(*filter.a, std::move(input), frame) : std::move(input);
    CallArgs args = eval_args(filter, frame);
    return apply_filter(filter.name, base, args);
  }

  Value eval(const Expr& expr, Frame& frame) {
    try {
      Value result = eval_unlocated(expr, frame);
      if (builds_value(expr.kind)) count_work(result);
      return result;
    } catch (...) {
      rethrow_located(expr.pos);
    }
  }

  // Whether an expression makes a new value, as opposed to one that shares what it looks up or picks
  // (a name, an attribute, an item, `a or b`): only new values count as work, so that a template may
  // look at `messages` in every iteration of a loop over it.
  static bool builds_value(Expr::Kind kind) {
    switch (kind) {
      case Expr::Kind::List:
      case Expr::Kind::Tuple:
      case Expr::Kind::Dict:
      case Expr::Kind::Slice:
      case Expr::Kind::Call:
      case Expr::Kind::Filter:
      case Expr::Kind::Binary: return true;
      default: return false;
    }
  }

  // Filters read their input, except the length of a list or dict and `default`, which only look at it;
  // templates ask for `messages|length` in every iteration of a loop over the messages.
  static bool reads_input(const std::string& filter, const Value& input) {
    if (filter == "default" || filter == "d") return false;
    return input.is_string() || (filter != "length" && filter != "count");
  }

  Value eval_unlocated(const Expr& expr, Frame& frame) {
    switch (expr.kind) {
      case Expr::Kind::Literal: return expr.literal;
      case Expr::Kind::Name: return lookup(expr.name, frame);
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        Array items;
        for (const ExprPtr& e : expr.items) items.push_back(eval(*e, frame));
        return Value(std::move(items), expr.kind == Expr::Kind::Tuple);
      }
      case Expr::Kind::Dict: {
        Object object;
        for (size_t i = 0; i + 1 < expr.items.size(); i += 2) {
          Value key = eval(*expr.items[i], frame);
          object.set(dict_key(key), eval(*expr.items[i + 1], frame));
        }
        return Value(std::move(object));
      }
      case Expr::Kind::Attribute: {
        Value object = eval(*expr.a, frame);
        Value attribute = get_attribute(object, expr.name);
        if (attribute.is_callable()) count_work(object);  // a method (str.find, list.index, dict.items) reads it
        return attribute;
      }
      case Expr::Kind::Subscript: return get_item(eval(*expr.a, frame), eval(*expr.b, frame));
      case Expr::Kind::Slice: {
        Value target = eval(*expr.a, frame);
        std::optional<Value> parts[3];
        for (int i = 0; i < 3; ++i) {
          if (expr.items[i]) parts[i] = eval(*expr.items[i], frame);
        }
        return slice(target, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::Call: {
        Value callee = eval(*expr.a, frame);
        CallArgs args = eval_args(expr, frame);
        return call_value(callee, args);
      }
      case Expr::Kind::Filter: {
        Value input = eval(*expr.a, frame);
        if (reads_input(expr.name, input)) count_work(input);
        CallArgs args = eval_args(expr, frame);
        return apply_filter(expr.name, input, args);
      }
      case Expr::Kind::Test: {
        Value input = eval(*expr.a, frame);
        CallArgs args = eval_args(expr, frame);
        return Value(apply_test(expr.name, input, args) != expr.negated);
      }
      case Expr::Kind::Unary: {
        Value operand = eval(*expr.a, frame);
        if (expr.name == "-") return unary_minus(operand);
        if (operand.is_undefined()) fail_undefined(operand);
        if (!operand.is_number()) throw TemplateError("bad operand type for unary +: '" + operand.type_name() + "'");
        return operand.is_bool() ? Value(operand.as_int()) : operand;
      }
      case Expr::Kind::Binary: {  // operators read their operands: `+` and `~` copy them
        Value left = eval(*expr.a, frame);
        Value right = eval(*expr.b, frame);
        count_work(left);
        count_work(right);
        return binary_op(expr.name, left, right);
      }
      case Expr::Kind::Compare: {  // `==` and `in` read their operands
        Value left = eval(*expr.a, frame);
        count_work(left);
        for (size_t i = 0; i < expr.ops.size(); ++i) {
          Value right = eval(*expr.items[i], frame);
          count_work(right);
          if (!compare_op(expr.ops[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::And: {
        Value left = eval(*expr.a, frame);
        return left.truthy() ? eval(*expr.b, frame) : left;
      }
      case Expr::Kind::Or: {
        Value left = eval(*expr.a, frame);
        return left.truthy() ? left : eval(*expr.b, frame);
      }
      case Expr::Kind::Not: return Value(!eval(*expr.a, frame).truthy());
      case Expr::Kind::Conditional:
        if (eval(*expr.b, frame).truthy()) return eval(*expr.a, frame);
        if (expr.c) return eval(*expr.c, frame);
        return Value::undefined("the inline if-expression on line " + std::to_string(expr.pos.line) +
                                " evaluated to false and no else section was defined.");
    }
    return Value();
  }

  const std::string& origin_;
  Frame& root_;
  const size_t max_work_;
  int64_t steps_ = 0;
  size_t work_ = 0;
  int call_depth_ = 0;
};

}  // namespace

Template Template::parse(std::string_view source, std::string origin, LexerOptions options) {
  auto shared_origin = std::make_shared<const std::string>(std::move(origin));
  const std::vector<Token> tokens = tokenize(source, options, *shared_origin);
  auto compiled = std::make_shared<Compiled>();
  compiled->body = parse_template(tokens, *shared_origin);
  compiled->root_missing = resolve_scopes(compiled->body);
  return Template(std::move(compiled), std::move(shared_origin));
}

std::string Template::render(const Object& variables, size_t max_work) const {
  const auto root_ptr = std::make_shared<Frame>(make_globals(), nullptr);
  Frame& root = *root_ptr;
  for (const auto& [k, v] : variables.entries()) root.vars.set(k, v);
  for (const std::string& name : compiled_->root_missing) root.vars.set(name, Value::undefined("'" + name + "' is undefined"));
  Renderer renderer(*origin_, root, max_work);
  std::string out;
  renderer.exec_body(compiled_->body, root, out);
  return out;
}

}  // namespace sabre::chat
