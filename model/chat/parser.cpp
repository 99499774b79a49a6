#include "model/chat/parser.hpp"

#include <charconv>
#include <initializer_list>

#include "model/chat/builtins.hpp"
#include "model/chat/limits.hpp"
#include "model/chat/string_ops.hpp"

namespace sabre::chat {

namespace {

using Type = Token::Type;

bool expr_names(const Expr* e, std::string_view name) {
  if (!e) return false;
  if (e->kind == Expr::Kind::Name && e->name == name) return true;
  if (expr_names(e->a.get(), name) || expr_names(e->b.get(), name) || expr_names(e->c.get(), name)) return true;
  for (const ExprPtr& item : e->items) {
    if (expr_names(item.get(), name)) return true;
  }
  for (const auto& [k, v] : e->kwargs) {
    if (expr_names(v.get(), name)) return true;
  }
  return false;
}

// Whether a statement list mentions `name` anywhere (nested macros included, as jinja2 looks too).
bool body_names(const Body& body, std::string_view name) {
  for (const StmtPtr& s : body) {
    if (expr_names(s->expr.get(), name) || expr_names(s->condition.get(), name)) return true;
    for (const auto& [cond, branch] : s->branches) {
      if (expr_names(cond.get(), name) || body_names(branch, name)) return true;
    }
    if (body_names(s->body, name) || body_names(s->else_body, name)) return true;
    for (const MacroParam& p : s->params) {
      if (expr_names(p.default_value.get(), name)) return true;
    }
  }
  return false;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& origin) : tokens_(tokens), origin_(origin) {}

  Body parse_all() {
    check_tag_lengths();
    std::string end_tag;
    Body body = parse_body({}, end_tag);
    if (!end_tag.empty()) fail(current(), "unexpected end tag '" + end_tag + "'");
    // jinja2 rejects an unknown filter or test when it compiles the template, unless the use sits in
    // an if-block or an inline if, where the error waits until that code runs.
    for (const UnknownName& u : unknown_names_) {
      if (!u.deferred) throw located_error(origin_, u.pos, "no " + u.what + " named '" + u.name + "'");
    }
    return body;
  }

 private:
  struct UnknownName {
    std::string what;  // "filter" or "test"
    std::string name;
    SourcePos pos;
    bool deferred;
  };

  void note_unknown(const char* what, const std::string& name, SourcePos pos) {
    unknown_names_.push_back(UnknownName{what, name, pos, soft_depth_ > 0});
  }

  // Runs `parse` with the soft state that jinja2's compiler gives it: `soft` inside if-blocks and
  // inline ifs, reset for loop, macro, call, filter and set-block bodies, which get frames of their own.
  template <class F>
  auto with_soft(bool soft, F&& parse) {
    const int saved = soft_depth_;
    soft_depth_ = soft ? saved + 1 : 0;
    auto result = parse();
    soft_depth_ = saved;
    return result;
  }

  // Parsing recurses for nested blocks, brackets and unary operators, and evaluation and destruction recurse
  // over the tree built: both are bounded so that a hostile template fails cleanly instead of overflowing
  // the stack.
  class Nest {
   public:
    Nest(Parser& parser, const Token& at) : parser_(parser) {
      if (++parser_.nesting_ > kMaxNesting) parser_.fail(at, "nested over " + std::to_string(kMaxNesting) + " deep");
    }
    ~Nest() { --parser_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& parser_;
  };

  void check_tag_lengths() const {
    size_t in_tag = 0;
    for (const Token& t : tokens_) {
      if (t.type == Type::VariableBegin || t.type == Type::BlockBegin) in_tag = 0;
      if (++in_tag > kMaxTagTokens) fail(t, "a tag of over " + std::to_string(kMaxTagTokens) + " tokens");
    }
  }

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& advance() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw located_error(origin_, at.pos, message);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Type::Data: return "template data";
      case Type::VariableBegin: return "'{{'";
      case Type::VariableEnd: return "end of print statement";
      case Type::BlockBegin: return "'{%'";
      case Type::BlockEnd: return "end of statement block";
      case Type::Name: return "'" + t.text + "'";
      case Type::String: return "string";
      case Type::Integer: case Type::Float: return "number";
      case Type::Operator: return "'" + t.text + "'";
      case Type::End: return "end of template";
    }
    return "token";
  }

  bool is_op(const char* op, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == Type::Operator && t.text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == Type::Name && t.text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(current(), std::string("expected '") + op + "', got " + describe(current()));
  }
  std::string expect_name() {
    if (current().type != Type::Name) fail(current(), "expected a name, got " + describe(current()));
    return advance().text;
  }
  void expect_block_end() {
    if (current().type != Type::BlockEnd) fail(current(), "expected end of statement block, got " + describe(current()));
    advance();
  }

  // Statements until one of `end_tags` opens a block; that tag's name is left in `found` with the
  // tokens positioned just after it.
  Body parse_body(std::initializer_list<const char*> end_tags, std::string& found) {
    const Nest nest(*this, current());
    Body body;
    while (true) {
      const Token& t = current();
      switch (t.type) {
        case Type::End:
          if (end_tags.size() != 0) {
            std::string expected;
            for (const char* tag : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(tag) + "'";
            fail(t, "unexpected end of template; jinja was looking for " + expected);
          }
          return body;
        case Type::Data: {
          auto s = std::make_unique<Stmt>(Stmt::Kind::Data, t.pos);
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case Type::VariableBegin: {
          advance();
          auto s = std::make_unique<Stmt>(Stmt::Kind::Print, t.pos);
          s->expr = parse_tuple(true);
          if (current().type != Type::VariableEnd) fail(current(), "expected end of print statement, got " + describe(current()));
          advance();
          body.push_back(std::move(s));
          break;
        }
        case Type::BlockBegin: {
          const Token& name = peek();
          if (name.type != Type::Name) fail(name, "expected a statement name, got " + describe(name));
          for (const char* tag : end_tags) {
            if (name.text == tag) {
              advance();
              advance();
              found = tag;
              return body;
            }
          }
          advance();
          body.push_back(parse_statement());
          break;
        }
        default:
          fail(t, "unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = advance();
    const std::string& tag = t.text;
    if (tag == "if") return parse_if(t);
    if (tag == "for") return parse_for(t);
    if (tag == "set") return parse_set(t);
    if (tag == "macro") return parse_macro(t);
    if (tag == "call") return parse_call_block(t);
    if (tag == "filter") return parse_filter_block(t);
    if (tag == "generation") {
      expect_block_end();
      auto s = std::make_unique<Stmt>(Stmt::Kind::Generation, t.pos);
      std::string end;
      s->body = parse_body({"endgeneration"}, end);
      expect_block_end();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(t, "'" + tag + "' outside of a for loop");
      expect_block_end();
      return std::make_unique<Stmt>(tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, t.pos);
    }
    static const char* const known_end_tags[] = {"endif", "endfor", "endset", "endmacro", "endcall", "endfilter",
                                                 "elif", "else", "endgeneration", "endraw"};
    for (const char* end : known_end_tags) {
      if (tag == end) fail(t, "encountered unknown tag '" + tag + "'; no block is open that it could close");
    }
    fail(t, "encountered unknown tag '" + tag + "'");
  }

  StmtPtr parse_if(const Token& at) {
    return with_soft(true, [&] { return parse_if_soft(at); });
  }

  StmtPtr parse_if_soft(const Token& at) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::If, at.pos);
    ExprPtr cond = parse_tuple(false);
    expect_block_end();
    while (true) {
      std::string end;
      Body body = parse_body({"elif", "else", "endif"}, end);
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") {
        cond = parse_tuple(false);
        expect_block_end();
        continue;
      }
      if (end == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, end);
      }
      expect_block_end();
      return s;
    }
  }

  Target parse_assign_target(bool allow_tuple, bool allow_attribute) {
    Target target;
    const bool parenthesised = allow_tuple && accept_op("(");
    target.names.push_back(expect_name());
    if (allow_attribute && is_op(".") && peek(1).type == Type::Name) {
      advance();
      target.attribute = advance().text;
      return target;
    }
    while (allow_tuple && accept_op(",")) {
      target.is_tuple = true;
      if (current().type != Type::Name) break;  // trailing comma
      target.names.push_back(expect_name());
    }
    if (parenthesised) {
      target.is_tuple = true;
      expect_op(")");
    }
    return target;
  }

  StmtPtr parse_for(const Token& at) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::For, at.pos);
    s->target = parse_assign_target(true, false);
    if (!accept_name("in")) fail(current(), "expected 'in', got " + describe(current()));
    s->expr = parse_tuple(false, /*with_condexpr=*/false);
    if (accept_name("if")) s->condition = parse_expression();
    if (is_name("recursive")) fail(current(), "recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    std::string end;
    s->body = with_soft(false, [&] { return parse_body({"endfor", "else"}, end); });
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      // The else block is outside this loop: a break/continue there belongs to an enclosing loop.
      s->else_body = with_soft(false, [&] { return parse_body({"endfor"}, end); });
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(const Token& at) {
    Target target = parse_assign_target(true, true);
    if (accept_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::Set, at.pos);
      s->target = std::move(target);
      s->expr = parse_tuple(false);
      expect_block_end();
      return s;
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::SetBlock, at.pos);
    s->target = std::move(target);
    if (s->target.is_tuple) fail(at, "a block assignment takes a single name");
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    std::string end;
    s->body = with_soft(false, [&] { return parse_body({"endset"}, end); });
    expect_block_end();
    return s;
  }

  void parse_signature(std::vector<MacroParam>& params) {
    expect_op("(");
    while (!accept_op(")")) {
      if (!params.empty()) expect_op(",");
      if (accept_op(")")) break;
      MacroParam p;
      p.name = expect_name();
      if (accept_op("=")) p.default_value = parse_expression();
      params.push_back(std::move(p));
    }
  }

  StmtPtr parse_macro(const Token& at) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::Macro, at.pos);
    s->text = expect_name();
    parse_signature(s->params);
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    s->body = with_soft(false, [&] { return parse_body({"endmacro"}, end); });
    loop_depth_ = saved;
    s->uses_varargs = body_names(s->body, "varargs");
    s->uses_kwargs = body_names(s->body, "kwargs");
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(const Token& at) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::CallBlock, at.pos);
    if (is_op("(")) parse_signature(s->params);
    s->expr = parse_expression();
    if (s->expr->kind != Expr::Kind::Call) fail(at, "expected a call after 'call'");
    expect_block_end();
    std::string end;
    const int saved = loop_depth_;
    loop_depth_ = 0;  // the body becomes the caller() macro: a loop around it is not its loop
    s->body = with_soft(false, [&] { return parse_body({"endcall"}, end); });
    loop_depth_ = saved;
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(const Token& at) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::FilterBlock, at.pos);
    s->expr = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect_block_end();
    std::string end;
    s->body = with_soft(false, [&] { return parse_body({"endfilter"}, end); });
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  ExprPtr make(Expr::Kind kind, const Token& at) { return std::make_unique<Expr>(kind, at.pos); }

  // An expression, or several separated by commas (a tuple without parentheses).
  ExprPtr parse_tuple(bool allow_empty_end, bool with_condexpr = true) {
    const Token& start = current();
    std::vector<ExprPtr> items;
    bool saw_comma = false;
    while (true) {
      if (!items.empty()) {
        if (!accept_op(",")) break;
        saw_comma = true;
        if (current().type == Type::VariableEnd || current().type == Type::BlockEnd || is_op(")")) break;
      }
      items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    (void)allow_empty_end;
    if (!saw_comma) return std::move(items.front());
    auto tuple = make(Expr::Kind::Tuple, start);
    tuple->items = std::move(items);
    return tuple;
  }

  ExprPtr parse_expression() {
    const size_t unknown_before = unknown_names_.size();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const Token& at = advance();
      auto cond = make(Expr::Kind::Conditional, at);
      cond->a = std::move(expr);
      cond->b = parse_or();
      if (accept_name("else")) cond->c = parse_expression();
      expr = std::move(cond);
      for (size_t i = unknown_before; i < unknown_names_.size(); ++i) unknown_names_[i].deferred = true;
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      auto node = make(Expr::Kind::Or, advance());
      node->a = std::move(left);
      node->b = parse_and();
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      auto node = make(Expr::Kind::And, advance());
      node->a = std::move(left);
      node->b = parse_not();
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_not() {
    const Nest nest(*this, current());
    if (is_name("not")) {
      auto node = make(Expr::Kind::Not, advance());
      node->a = parse_not();
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& start = current();
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      const Token& t = current();
      if (t.type == Type::Operator &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=")) {
        ops.push_back(advance().text);
      } else if (is_name("in")) {
        advance();
        ops.push_back("in");
      } else if (is_name("not") && is_name("in", 1)) {
        advance();
        advance();
        ops.push_back("not in");
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto node = make(Expr::Kind::Compare, start);
    node->a = std::move(first);
    node->ops = std::move(ops);
    node->items = std::move(operands);
    return node;
  }

  ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    auto node = make(Expr::Kind::Binary, at);
    node->name = std::move(op);
    node->a = std::move(left);
    node->b = std::move(right);
    return node;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = advance();
      left = binary(at, at.text, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const Token& at = advance();
      left = binary(at, "~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = advance();
      left = binary(at, at.text, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {  // left-associative, as jinja2 parses it
      const Token& at = advance();
      left = binary(at, "**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    const Nest nest(*this, current());
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& at = advance();
      node = make(Expr::Kind::Unary, at);
      node->name = at.text;
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    switch (t.type) {
      case Type::Name: {
        advance();
        if (t.text == "true" || t.text == "True") return literal(t, Value(true));
        if (t.text == "false" || t.text == "False") return literal(t, Value(false));
        if (t.text == "none" || t.text == "None") return literal(t, Value(nullptr));
        auto node = make(Expr::Kind::Name, t);
        node->name = t.text;
        return node;
      }
      case Type::String: {
        std::string text;
        while (current().type == Type::String) text += advance().text;  // adjacent literals concatenate
        return literal(t, Value(std::move(text)));
      }
      case Type::Integer: {
        advance();
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (ec != std::errc()) fail(t, "integer literal out of range: " + t.text);
        return literal(t, Value(v));
      }
      case Type::Float: {
        advance();
        double v = 0;
        std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        return literal(t, Value(v));
      }
      case Type::Operator:
        if (t.text == "(") {
          advance();
          if (accept_op(")")) {
            auto node = make(Expr::Kind::Tuple, t);
            return node;
          }
          ExprPtr inner = parse_tuple(false);
          expect_op(")");
          return inner;
        }
        if (t.text == "[") {
          advance();
          auto node = make(Expr::Kind::List, t);
          while (!accept_op("]")) {
            if (!node->items.empty()) expect_op(",");
            if (accept_op("]")) break;
            node->items.push_back(parse_expression());
          }
          return node;
        }
        if (t.text == "{") {
          advance();
          auto node = make(Expr::Kind::Dict, t);
          while (!accept_op("}")) {
            if (!node->items.empty()) expect_op(",");
            if (accept_op("}")) break;
            node->items.push_back(parse_expression());
            expect_op(":");
            node->items.push_back(parse_expression());
          }
          return node;
        }
        break;
      default:
        break;
    }
    fail(t, "unexpected " + describe(t));
  }

  ExprPtr literal(const Token& at, Value v) {
    auto node = make(Expr::Kind::Literal, at);
    node->literal = std::move(v);
    return node;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        const Token& at = advance();
        if (current().type == Type::Name) {
          auto attr = make(Expr::Kind::Attribute, at);
          attr->a = std::move(node);
          attr->name = advance().text;
          node = std::move(attr);
        } else if (current().type == Type::Integer) {  // x.0 is x[0]
          auto sub = make(Expr::Kind::Subscript, at);
          sub->a = std::move(node);
          const auto index = parse_int64(current().text);
          if (!index) fail(current(), "integer literal out of range: " + current().text);
          sub->b = literal(current(), Value(*index));
          advance();
          node = std::move(sub);
        } else {
          fail(current(), "expected a name after '.', got " + describe(current()));
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target) {
    const Token& at = advance();  // '['
    ExprPtr parts[3];
    bool is_slice = false;
    int part = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        advance();
        is_slice = true;
        if (++part > 2) fail(current(), "too many ':' in slice");
        continue;
      }
      if (parts[part]) fail(current(), "expected ']' or ':', got " + describe(current()));
      parts[part] = parse_expression();
    }
    advance();
    if (!is_slice) {
      if (!parts[0]) fail(at, "expected an index between '[' and ']'");
      auto sub = make(Expr::Kind::Subscript, at);
      sub->a = std::move(target);
      sub->b = std::move(parts[0]);
      return sub;
    }
    auto slice = make(Expr::Kind::Slice, at);
    slice->a = std::move(target);
    slice->items.resize(3);
    for (int i = 0; i < 3; ++i) slice->items[i] = std::move(parts[i]);
    return slice;
  }

  void parse_call_args(Expr& node) {
    expect_op("(");
    bool first = true;
    while (!accept_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (accept_op(")")) break;
      if (current().type == Type::Name && is_op("=", 1)) {
        std::string name = advance().text;
        advance();
        node.kwargs.emplace_back(std::move(name), parse_expression());
      } else {
        if (!node.kwargs.empty()) fail(current(), "positional argument after keyword argument");
        node.items.push_back(parse_expression());
      }
    }
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = make(Expr::Kind::Call, current());
    call->a = std::move(callee);
    parse_call_args(*call);
    return call;
  }

  // `| name(args)` repeated; `leading_pipe` false for {% filter name %} where the first has no pipe.
  ExprPtr parse_filter_chain(ExprPtr node, bool leading_pipe = true) {
    bool first = true;
    while ((first && !leading_pipe) || is_op("|")) {
      if (!(first && !leading_pipe)) advance();
      first = false;
      const Token& at = current();
      std::string name = expect_name();
      while (is_op(".") && peek(1).type == Type::Name) {  // dotted filter names
        advance();
        name += "." + advance().text;
      }
      if (!has_filter(name)) note_unknown("filter", name, at.pos);
      auto filter = make(Expr::Kind::Filter, at);
      filter->name = std::move(name);
      filter->a = std::move(node);
      if (is_op("(")) parse_call_args(*filter);
      node = std::move(filter);
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter_chain(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    const Token& at = advance();  // 'is'
    auto test = make(Expr::Kind::Test, at);
    test->negated = accept_name("not");
    const Token& name_token = current();
    test->name = expect_name();
    while (is_op(".") && peek(1).type == Type::Name) {
      advance();
      test->name += "." + advance().text;
    }
    if (!has_test(test->name)) note_unknown("test", test->name, name_token.pos);
    test->a = std::move(node);
    const Token& t = current();
    if (is_op("(")) {
      parse_call_args(*test);
    } else if ((t.type == Type::Name || t.type == Type::String || t.type == Type::Integer || t.type == Type::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail(t, "you cannot chain multiple tests with is");
      test->items.push_back(parse_postfix(parse_primary()));
    }
    return test;
  }

  const std::vector<Token>& tokens_;
  const std::string& origin_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int soft_depth_ = 0;
  int nesting_ = 0;
  std::vector<UnknownName> unknown_names_;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, const std::string& origin) {
  return Parser(tokens, origin).parse_all();
}

}  // namespace sabre::chat
