#include "model/structured/guided_compiler.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "model/structured/gbnf.hpp"
#include "model/structured/regex_grammar.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre::structured {
namespace {

constexpr size_t kMaxCachedConstraints = 32;
constexpr size_t kMaxChoices = 10'000;
constexpr size_t kMaxConstraintBytes = 256 << 10;

RuleMap choice_rules(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::array choices;
  if (parser.parse(text).get(choices)) throw GrammarError("choice: expected a JSON array of strings");
  std::vector<Expr> alternatives;
  for (auto choice : choices) {
    std::string_view s;
    if (choice.get(s)) throw GrammarError("choice: every choice must be a string");
    alternatives.push_back(Expr::literal(s));
  }
  if (alternatives.empty()) throw GrammarError("choice: at least one choice is needed");
  if (alternatives.size() > kMaxChoices) throw GrammarError(fmt::format("choice: more than {} choices", kMaxChoices));
  RuleMap rules;
  rules["root"] = Expr::any_of(std::move(alternatives));
  return rules;
}

}  // namespace

RuleMap guided_rules(const GuidedDecoding& guided) {
  // Every byte of a literal becomes a node of the expression: the text's size bounds the compile's memory.
  if (guided.text.size() > kMaxConstraintBytes) {
    throw GrammarError(fmt::format("guided decoding: the constraint has {} bytes, more than the {} allowed",
                                   guided.text.size(), kMaxConstraintBytes));
  }
  switch (guided.kind) {
    case GuidedKind::json_schema: return json_schema_rules(guided.text);
    case GuidedKind::json_object: return json_object_rules();
    case GuidedKind::regex: {
      RuleMap rules;
      rules["root"] = regex_expr(guided.text);
      return rules;
    }
    case GuidedKind::choice: return choice_rules(guided.text);
    case GuidedKind::grammar: return gbnf_rules(guided.text);
    case GuidedKind::none: break;
  }
  throw GrammarError("guided decoding: no constraint given");
}

GuidedCompiler::GuidedCompiler(std::shared_ptr<const Tokenizer> tokenizer, int64_t logits_vocab,
                               std::vector<int32_t> eos_ids, size_t max_mask_work)
    : tokenizer_(std::move(tokenizer)),
      logits_vocab_(logits_vocab),
      eos_ids_(std::move(eos_ids)),
      max_mask_work_(max_mask_work) {}

std::shared_ptr<const TokenVocabulary> GuidedCompiler::vocabulary() {
  if (!vocabulary_) {
    if (!tokenizer_) throw GrammarError("guided decoding needs the model's tokenizer, and this model has none");
    vocabulary_ = TokenVocabulary::of(*tokenizer_, logits_vocab_);
  }
  return vocabulary_;
}

std::shared_ptr<const CompiledGrammar> GuidedCompiler::compile(const GuidedDecoding& guided) {
  const std::string key = fmt::format("{}\n{}", guided_kind_name(guided.kind), guided.text);
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  // Compiled outside the lock: a large schema does not hold up the other ranks and requests.
  auto grammar = std::make_shared<const Grammar>(Grammar::lower(guided_rules(guided), "root"));
  std::shared_ptr<const TokenVocabulary> tokens;
  {
    std::lock_guard lock(mutex_);
    tokens = vocabulary();
  }
  // Also outside the lock: it computes the first mask.
  auto compiled =
      std::make_shared<const CompiledGrammar>(std::move(grammar), std::move(tokens), eos_ids_, max_mask_work_);
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedConstraints) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  cache_.emplace(key, compiled);
  order_.push_back(key);
  return compiled;
}

}  // namespace sabre::structured
