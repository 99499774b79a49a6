#include "model/structured/grammar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <utility>

namespace sabre::structured {

Expr Expr::literal(std::string_view bytes) {
  Expr e;
  for (char c : bytes) e.items.push_back(byte_set(ByteSet::of(static_cast<uint8_t>(c))));
  return e;
}

Expr Expr::seq(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items.front());
  Expr e;
  e.items = std::move(items);
  return e;
}

Expr Expr::any_of(std::vector<Expr> alternatives) {
  if (alternatives.size() == 1) return std::move(alternatives.front());
  Expr e;
  e.kind = Kind::choice;
  e.items = std::move(alternatives);
  return e;
}

Expr Expr::repeat(Expr item, int64_t min, int64_t max) {
  Expr e;
  e.kind = Kind::repeat;
  e.items.push_back(std::move(item));
  e.min = min;
  e.max = max;
  return e;
}

namespace {

using Element = Grammar::Element;

class Lowering {
 public:
  Lowering(const std::map<std::string, Expr>& definitions, const GrammarLimits& limits)
      : definitions_(definitions), limits_(limits) {}

  Grammar run(const std::string& root) {
    if (!definitions_.count(root)) throw GrammarError(fmt::format("grammar: no root rule \"{}\"", root));
    grammar_.root = named_rule(root);
    while (!pending_.empty()) {
      const auto [name, id] = pending_.back();
      pending_.pop_back();
      lower_alternatives(id, definitions_.at(name), name);
    }
    check_left_recursion();
    return std::move(grammar_);
  }

 private:
  uint32_t new_rule(std::string name) {
    grammar_.alternatives.emplace_back();
    grammar_.rule_names.push_back(std::move(name));
    return static_cast<uint32_t>(grammar_.alternatives.size() - 1);
  }

  // A named rule's index; the first reference queues its definition for lowering.
  uint32_t named_rule(const std::string& name) {
    if (auto it = ids_.find(name); it != ids_.end()) return it->second;
    if (!definitions_.count(name)) throw GrammarError(fmt::format("grammar: rule \"{}\" is not defined", name));
    const uint32_t id = new_rule(name);
    ids_.emplace(name, id);
    pending_.emplace_back(name, id);
    return id;
  }

  void add_alternative(uint32_t rule, const std::vector<Element>& elements) {
    grammar_.alternatives[rule].push_back(static_cast<uint32_t>(grammar_.elements.size()));
    grammar_.elements.insert(grammar_.elements.end(), elements.begin(), elements.end());
    grammar_.elements.push_back({Element::Kind::end, 0});
    if (static_cast<int64_t>(grammar_.elements.size()) > limits_.max_elements) {
      throw GrammarError(fmt::format("grammar: more than {} elements (the constraint is too large)",
                                     limits_.max_elements));
    }
  }

  void lower_alternatives(uint32_t rule, const Expr& e, const std::string& owner) {
    if (e.kind == Expr::Kind::choice) {
      for (const Expr& alternative : e.items) add_alternative(rule, emitted(alternative, owner));
    } else {
      add_alternative(rule, emitted(e, owner));
    }
  }

  uint32_t helper_rule(const std::string& owner) { return new_rule(fmt::format("{}-{}", owner, ++helpers_)); }

  uint32_t byte_set_index(const ByteSet& set) {
    auto [it, added] = set_ids_.emplace(set.words, static_cast<uint32_t>(grammar_.byte_sets.size()));
    if (added) grammar_.byte_sets.push_back(set);
    return it->second;
  }

  std::vector<Element> emitted(const Expr& e, const std::string& owner) {
    std::vector<Element> out;
    emit(e, owner, out);
    return out;
  }

  void emit(const Expr& e, const std::string& owner, std::vector<Element>& out) {
    switch (e.kind) {
      case Expr::Kind::bytes:
        out.push_back({Element::Kind::bytes, byte_set_index(e.set)});
        return;
      case Expr::Kind::sequence:
        for (const Expr& item : e.items) emit(item, owner, out);
        return;
      case Expr::Kind::rule:
        out.push_back({Element::Kind::rule, named_rule(e.name)});
        return;
      case Expr::Kind::choice: {
        if (e.items.size() == 1) return emit(e.items.front(), owner, out);
        const uint32_t rule = helper_rule(owner);  // no alternatives at all: matches nothing
        lower_alternatives(rule, e, owner);
        out.push_back({Element::Kind::rule, rule});
        return;
      }
      case Expr::Kind::repeat:
        return emit_repeat(e, owner, out);
    }
  }

  // x{min,max}: min copies of x, then max - min nested optional copies (or one loop when unbounded).
  void emit_repeat(const Expr& e, const std::string& owner, std::vector<Element>& out) {
    if (e.min < 0 || (e.max != Expr::kUnbounded && e.max < e.min)) {
      throw GrammarError(fmt::format("grammar: bad repetition bounds {{{},{}}} in rule \"{}\"", e.min, e.max, owner));
    }
    if (e.min > limits_.max_repeat || (e.max != Expr::kUnbounded && e.max > limits_.max_repeat)) {
      throw GrammarError(fmt::format("grammar: a repetition bound over {} in rule \"{}\"", limits_.max_repeat, owner));
    }
    if (e.max == 0) return;
    const std::vector<Element> once = emitted(e.items.front(), owner);
    // More than one element is repeated through a rule of its own, so that copies share it.
    Element unit = once.size() == 1 ? once.front() : Element{};
    if (once.size() != 1) {
      const uint32_t rule = helper_rule(owner);
      add_alternative(rule, once);
      unit = {Element::Kind::rule, rule};
    }
    for (int64_t i = 0; i < e.min; ++i) out.push_back(unit);
    if (e.max == Expr::kUnbounded) {
      const uint32_t loop = helper_rule(owner);
      add_alternative(loop, {unit, {Element::Kind::rule, loop}});
      add_alternative(loop, {});
      out.push_back({Element::Kind::rule, loop});
      return;
    }
    int64_t optional_count = e.max - e.min;
    if (optional_count == 0) return;
    uint32_t inner = helper_rule(owner);
    add_alternative(inner, {unit});
    add_alternative(inner, {});
    while (--optional_count > 0) {
      const uint32_t outer = helper_rule(owner);
      add_alternative(outer, {unit, {Element::Kind::rule, inner}});
      add_alternative(outer, {});
      inner = outer;
    }
    out.push_back({Element::Kind::rule, inner});
  }

  // A rule that can reach itself without consuming a byte would expand forever in the matcher.
  void check_left_recursion() {
    const size_t n = grammar_.alternatives.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (uint32_t start : grammar_.alternatives[r]) {
          bool all = true;
          for (uint32_t p = start; grammar_.elements[p].kind != Element::Kind::end; ++p) {
            const Element& el = grammar_.elements[p];
            if (el.kind == Element::Kind::bytes || !nullable[el.value]) {
              all = false;
              break;
            }
          }
          if (all) {
            nullable[r] = true;
            changed = true;
            break;
          }
        }
      }
    }
    // Left edges: rule r can start with rule q. An edge through a reference in tail position (the last
    // element of its alternative) pushes no frame in the matcher, so a cycle of such edges only revisits
    // a parse (the matcher expands each once); a cycle with any other edge grows the stack forever.
    struct Edge {
      uint32_t to;
      bool tail;
    };
    std::vector<std::vector<Edge>> left(n);
    for (size_t r = 0; r < n; ++r) {
      for (uint32_t start : grammar_.alternatives[r]) {
        for (uint32_t p = start; grammar_.elements[p].kind == Element::Kind::rule; ++p) {
          left[r].push_back({grammar_.elements[p].value, grammar_.elements[p + 1].kind == Element::Kind::end});
          if (!nullable[grammar_.elements[p].value]) break;
        }
      }
    }
    // An edge lies on a cycle exactly when both its ends are in one strongly connected component.
    const std::vector<uint32_t> component = strongly_connected_components(left, n);
    for (size_t u = 0; u < n; ++u) {
      for (const Edge& e : left[u]) {
        if (!e.tail && component[u] == component[e.to]) {
          throw GrammarError(fmt::format("grammar: rule \"{}\" is left-recursive (it can reach itself before "
                                         "matching any byte); write the repetition on the right",
                                         user_rule_name(static_cast<uint32_t>(u))));
        }
      }
    }
  }

  // Tarjan's algorithm, iterative: the component of every rule over the edges `graph`.
  template <class Graph>
  static std::vector<uint32_t> strongly_connected_components(const Graph& graph, size_t n) {
    constexpr uint32_t kUnvisited = UINT32_MAX;
    std::vector<uint32_t> index(n, kUnvisited), low(n, 0), component(n, kUnvisited);
    std::vector<bool> on_stack(n, false);
    std::vector<uint32_t> stack;
    uint32_t next_index = 0, next_component = 0;
    std::vector<std::pair<uint32_t, size_t>> calls;  // (rule, next edge to look at)
    for (uint32_t root = 0; root < n; ++root) {
      if (index[root] != kUnvisited) continue;
      calls.emplace_back(root, 0);
      index[root] = low[root] = next_index++;
      stack.push_back(root);
      on_stack[root] = true;
      while (!calls.empty()) {
        const uint32_t v = calls.back().first;
        const size_t e = calls.back().second;
        if (e < graph[v].size()) {
          ++calls.back().second;
          const uint32_t w = graph[v][e].to;
          if (index[w] == kUnvisited) {
            index[w] = low[w] = next_index++;
            stack.push_back(w);
            on_stack[w] = true;
            calls.emplace_back(w, 0);
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], index[w]);
          }
          continue;
        }
        if (low[v] == index[v]) {
          uint32_t w = 0;
          do {
            w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            component[w] = next_component;
          } while (w != v);
          ++next_component;
        }
        calls.pop_back();
        if (!calls.empty()) low[calls.back().first] = std::min(low[calls.back().first], low[v]);
      }
    }
    return component;
  }

  // Helper rules are named "<rule>-<n>": errors name the rule the user wrote.
  std::string user_rule_name(uint32_t rule) const {
    const std::string& name = grammar_.rule_names[rule];
    for (const auto& [user, id] : ids_) {
      if (id == rule) return user;
    }
    return name.substr(0, name.rfind('-'));
  }

  const std::map<std::string, Expr>& definitions_;
  const GrammarLimits& limits_;
  Grammar grammar_;
  std::map<std::string, uint32_t> ids_;
  std::vector<std::pair<std::string, uint32_t>> pending_;
  std::map<std::array<uint64_t, 4>, uint32_t> set_ids_;
  int64_t helpers_ = 0;
};

std::string byte_text(uint8_t b) {
  if (b == '\\' || b == ']' || b == '[' || b == '-' || b == '^') return fmt::format("\\{}", static_cast<char>(b));
  if (b >= 0x20 && b < 0x7f) return std::string(1, static_cast<char>(b));
  return fmt::format("\\x{:02X}", b);
}

std::string set_text(const ByteSet& set) {
  std::string out = "[";
  for (int b = 0; b < 256;) {
    if (!set.contains(static_cast<uint8_t>(b))) {
      ++b;
      continue;
    }
    int e = b;
    while (e + 1 < 256 && set.contains(static_cast<uint8_t>(e + 1))) ++e;
    out += byte_text(static_cast<uint8_t>(b));
    if (e > b) out += "-" + byte_text(static_cast<uint8_t>(e));
    b = e + 1;
  }
  return out + "]";
}

}  // namespace

Grammar Grammar::lower(const std::map<std::string, Expr>& rules, const std::string& root, const GrammarLimits& limits) {
  return Lowering(rules, limits).run(root);
}

std::string Grammar::to_text() const {
  std::string out;
  for (size_t r = 0; r < alternatives.size(); ++r) {
    out += rule_names[r] + " ::=";
    for (size_t a = 0; a < alternatives[r].size(); ++a) {
      if (a) out += " |";
      for (uint32_t p = alternatives[r][a]; elements[p].kind != Element::Kind::end; ++p) {
        out += " ";
        out += elements[p].kind == Element::Kind::bytes ? set_text(byte_sets[elements[p].value])
                                                         : rule_names[elements[p].value];
      }
      if (elements[alternatives[r][a]].kind == Element::Kind::end) out += " \"\"";
    }
    out += "\n";
  }
  return out;
}

}  // namespace sabre::structured
