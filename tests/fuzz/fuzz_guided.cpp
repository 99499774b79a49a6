// Guided decoding's constraint compilers and matcher on arbitrary input: the first byte picks the kind
// (JSON Schema, regex, GBNF, choice list) and the rest is its text; a constraint either compiles or throws
// GrammarError, and a compiled one is matched against the input's bytes and walked for a token mask over
// a small vocabulary. The tool-call reader parses the text too. Crashes, sanitizer reports, other
// exceptions, runaway time or memory are findings: constraints come from any client.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/openai/tool_calls.hpp"
#include "model/structured/grammar_constraint.hpp"
#include "model/structured/guided_compiler.hpp"

namespace {

using namespace sabre;
using namespace sabre::structured;

constexpr size_t kMaxFuzzMaskWork = size_t{1} << 16;

std::shared_ptr<const TokenVocabulary> vocabulary() {
  static const auto vocab = [] {
    std::vector<std::optional<std::string>> tokens{std::nullopt};
    for (int b = 0; b < 256; ++b) tokens.emplace_back(std::string(1, static_cast<char>(b)));
    for (const char* piece : {"{\"", "\":", "\", \"", "true", "null", "12", "ab", "\\u00", "\xC3\xA9", "]}"}) {
      tokens.emplace_back(piece);
    }
    return std::make_shared<const TokenVocabulary>(std::move(tokens), 300);
  }();
  return vocab;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const GuidedKind kinds[] = {GuidedKind::json_schema, GuidedKind::regex, GuidedKind::grammar, GuidedKind::choice,
                              GuidedKind::json_object};
  const GuidedDecoding guided{kinds[data[0] % 5], std::string(text)};
  for (auto format : {openai::ToolCallFormat::hermes, openai::ToolCallFormat::llama3_json}) {
    openai::ToolPlan plan;
    plan.mode = openai::ToolPlan::Mode::parse;
    plan.format = format;
    openai::ToolCallStream stream(plan);
    for (size_t i = 0; i < text.size(); i += 7) stream.push(text.substr(i, 7));
    stream.finish();
    openai::parse_tool_calls(plan, text);
  }
  std::shared_ptr<const CompiledGrammar> compiled;
  try {
    auto grammar = std::make_shared<const Grammar>(Grammar::lower(guided_rules(guided), "root"));
    // A mask over this 300-token vocabulary takes a few thousand parse steps; the budget scaled down from
    // kMaxMaskWork (sized for 150,000 tokens) keeps an ambiguous input's 64 masks within the timeout
    // under ASan, and has the fuzzer reach the budget's paths.
    compiled = std::make_shared<const CompiledGrammar>(grammar, vocabulary(), std::vector<int32_t>{0}, kMaxFuzzMaskWork);
  } catch (const GrammarError&) {
    return 0;
  }
  auto constraint = compiled->start(std::vector<int32_t>{0});
  std::vector<uint32_t> words((300 + 31) / 32);
  // Follow the input's own bytes as tokens (1 + byte) while the constraint allows them.
  for (size_t i = 0; i < std::min<size_t>(text.size(), 64); ++i) {
    std::fill(words.begin(), words.end(), 0u);
    constraint->allowed_tokens({}, words);
    const int32_t token = 1 + static_cast<uint8_t>(text[i]);
    if (!((words[static_cast<size_t>(token) / 32] >> (token % 32)) & 1)) break;
    constraint->commit(token);
  }
  return 0;
}
