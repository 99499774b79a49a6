#pragma once
// From a request's GuidedDecoding to what the sampler applies: its rules (JSON Schema, any JSON object,
// regex, choice or GBNF), the lowered grammar, and the grammar compiled against the served model's
// vocabulary. One compiler serves a process: the HTTP edge checks constraints through it (a bad one is a
// 400 before anything is queued) and the ranks compile through it, so both share its cache. Thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/guided_decoding.hpp"
#include "model/structured/grammar_constraint.hpp"
#include "model/structured/json_grammar.hpp"

namespace sabre {
class Tokenizer;
}

namespace sabre::structured {

// The rules of `guided`, rooted at "root". Throws GrammarError naming what is wrong.
RuleMap guided_rules(const GuidedDecoding& guided);

class GuidedCompiler {
 public:
  // `logits_vocab`: the width of the model's logits rows. `eos_ids`: the model's, for sequences that have
  // no end tokens of their own. `max_mask_work`: each mask's budget (CompiledGrammar); the server keeps
  // the default, a fuzz harness under ASan lowers it to stay within its timeout.
  GuidedCompiler(std::shared_ptr<const Tokenizer> tokenizer, int64_t logits_vocab, std::vector<int32_t> eos_ids,
                 size_t max_mask_work = kMaxMaskWork);

  // The constraint compiled against the vocabulary (cached by kind and text; the vocabulary's trie is
  // built on first use). Throws GrammarError.
  std::shared_ptr<const CompiledGrammar> compile(const GuidedDecoding& guided);

 private:
  std::shared_ptr<const TokenVocabulary> vocabulary();

  std::shared_ptr<const Tokenizer> tokenizer_;
  int64_t logits_vocab_;
  std::vector<int32_t> eos_ids_;
  size_t max_mask_work_;
  std::mutex mutex_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::map<std::string, std::shared_ptr<const CompiledGrammar>> cache_;
  std::deque<std::string> order_;  // oldest first, for eviction
};

}  // namespace sabre::structured
