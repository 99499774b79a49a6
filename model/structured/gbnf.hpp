#pragma once
// GBNF, llama.cpp's grammar notation (also what vLLM's guided_grammar takes with the xgrammar backend), as
// grammar rules:
//
//   root   ::= answer ("," answer)*        # a comment
//   answer ::= "yes" | "no" | [0-9]+ | item{1,3}
//   item   ::= [^"\\] | "\\" .
//
// Rules are `name ::= alternatives`, a rule's body runs until the next `name ::=`; terms are "literals",
// [classes] (with ^ and ranges), `.` (any character), rule names and (groups), each optionally followed by
// * + ? {m} {m,} {m,n}. Literals and classes are Unicode characters, escaped as \n \r \t \\ \" \] \[ \-
// \xHH \uHHHH \UHHHHHHHH. The output must match rule "root".

#include <string_view>

#include "model/structured/json_grammar.hpp"

namespace sabre::structured {

// Throws GrammarError naming the line and column of a syntax error.
RuleMap gbnf_rules(std::string_view text);

}  // namespace sabre::structured
