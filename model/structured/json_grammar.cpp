#include "model/structured/json_grammar.hpp"

#include "model/structured/utf8_ranges.hpp"

namespace sabre::structured {
namespace {

Expr lit(std::string_view s) { return Expr::literal(s); }
Expr ref(const char* name) { return Expr::ref(name); }
Expr bytes(char lo, char hi) { return Expr::byte_set(ByteSet::range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi))); }

}  // namespace

void add_json_rules(RuleMap& rules) {
  if (rules.count("json-value")) return;
  // Between tokens: nothing, one space, or a line break and an indentation of up to 20 spaces (what
  // compact and pretty-printed JSON use; a sampled model cannot pad with whitespace).
  rules["json-ws"] = Expr::any_of({Expr::empty(), lit(" "),
                                   Expr::seq({lit("\n"), Expr::repeat(lit(" "), 0, 20)})});
  // One character of a string: anything but '"', '\' and control characters, or an escape.
  const Expr hex = Expr::any_of({bytes('0', '9'), bytes('a', 'f'), bytes('A', 'F')});
  ByteSet escaped;
  for (char c : {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'}) escaped.add(static_cast<uint8_t>(c));
  rules["json-char"] = Expr::any_of({
      utf8_class(complement({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}})),
      Expr::seq({lit("\\"), Expr::any_of({Expr::byte_set(escaped), Expr::seq({lit("u"), Expr::repeat(hex, 4, 4)})})}),
  });
  rules["json-string"] = Expr::seq({lit("\""), Expr::star(ref("json-char")), lit("\"")});
  const Expr digits_after_first = Expr::repeat(bytes('0', '9'), 0, 15);
  rules["json-integer"] = Expr::seq({Expr::optional(lit("-")),
                                     Expr::any_of({lit("0"), Expr::seq({bytes('1', '9'), digits_after_first})})});
  rules["json-number"] = Expr::seq({
      ref("json-integer"),
      Expr::optional(Expr::seq({lit("."), Expr::repeat(bytes('0', '9'), 1, 16)})),
      Expr::optional(Expr::seq({Expr::any_of({lit("e"), lit("E")}), Expr::optional(Expr::any_of({lit("+"), lit("-")})),
                                Expr::repeat(bytes('0', '9'), 1, 3)})),
  });
  rules["json-boolean"] = Expr::any_of({lit("true"), lit("false")});
  rules["json-null"] = lit("null");
  rules["json-value"] = Expr::any_of({ref("json-object"), ref("json-array"), ref("json-string"), ref("json-number"),
                                      ref("json-boolean"), ref("json-null")});
  const Expr member = Expr::seq({ref("json-string"), ref("json-ws"), lit(":"), ref("json-ws"), ref("json-value")});
  const Expr separator = Expr::seq({ref("json-ws"), lit(","), ref("json-ws")});
  rules["json-object"] = Expr::seq({
      lit("{"), ref("json-ws"),
      Expr::optional(Expr::seq({member, Expr::star(Expr::seq({separator, member})), ref("json-ws")})), lit("}")});
  rules["json-array"] = Expr::seq({
      lit("["), ref("json-ws"),
      Expr::optional(Expr::seq({ref("json-value"), Expr::star(Expr::seq({separator, ref("json-value")})), ref("json-ws")})),
      lit("]")});
}

RuleMap json_object_rules() {
  RuleMap rules;
  add_json_rules(rules);
  rules["root"] = ref("json-object");
  return rules;
}

}  // namespace sabre::structured
