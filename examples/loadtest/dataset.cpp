#include "dataset.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <stdexcept>

#include "config/text/read_file.hpp"

namespace sabre::loadtest {

namespace {

// Short, frequent words: single tokens in the common BPE vocabularies when preceded by a space.
constexpr std::array<std::string_view, 64> kWords = {
    "the",   "of",    "and",   "to",    "in",    "is",    "you",   "that",  "it",    "he",    "was",
    "for",   "on",    "are",   "as",    "with",  "his",   "they",  "at",    "be",    "this",  "have",
    "from",  "or",    "one",   "had",   "by",    "word",  "but",   "not",   "what",  "all",   "were",
    "we",    "when",  "your",  "can",   "said",  "there", "use",   "an",    "each",  "which", "she",
    "do",    "how",   "their", "if",    "will",  "up",    "other", "about", "out",   "many",  "then",
    "them",  "these", "so",    "some",  "her",   "would", "make",  "like",  "time"};

}  // namespace

std::vector<BenchPrompt> make_random_dataset(const RandomDatasetSpec& spec, size_t count, uint64_t seed) {
  if (spec.input_tokens < 1) throw std::invalid_argument("random dataset: IN must be at least 1");
  if (spec.output_tokens < 1) throw std::invalid_argument("random dataset: OUT must be at least 1");
  if (spec.vocab_size <= kFirstRandomTokenId) {
    throw std::invalid_argument(fmt::format("random dataset: vocab size {} leaves no ids above {}",
                                            spec.vocab_size, kFirstRandomTokenId));
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> token_id(kFirstRandomTokenId, spec.vocab_size - 1);
  std::uniform_int_distribution<size_t> word(0, kWords.size() - 1);
  std::vector<BenchPrompt> prompts(count);
  for (BenchPrompt& prompt : prompts) {
    prompt.input_tokens = spec.input_tokens;
    prompt.output_tokens = spec.output_tokens;
    if (spec.kind == RandomPromptKind::token_ids) {
      prompt.prompt_ids.resize(static_cast<size_t>(spec.input_tokens));
      for (int32_t& id : prompt.prompt_ids) id = token_id(rng);
    } else {
      for (int64_t i = 0; i < spec.input_tokens; ++i) {
        if (i > 0) prompt.text.push_back(' ');
        prompt.text.append(kWords[word(rng)]);
      }
    }
  }
  return prompts;
}

int64_t estimate_tokens(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (const char ch : text) {
    const bool space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return std::max<int64_t>(1, std::llround(static_cast<double>(words) * 1.3));
}

std::vector<BenchPrompt> parse_sharegpt(std::string_view json, const std::string& origin, size_t count,
                                        uint64_t seed) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (const auto error = parser.parse(padded).get(root)) {
    throw std::runtime_error(fmt::format("{}: not valid JSON ({})", origin, simdjson::error_message(error)));
  }
  simdjson::dom::array entries;
  if (root.get_array().get(entries)) {
    throw std::runtime_error(fmt::format("{}: expected a JSON array of ShareGPT conversations", origin));
  }
  std::vector<BenchPrompt> pool;
  for (const simdjson::dom::element entry : entries) {
    simdjson::dom::array turns;
    if (entry["conversations"].get_array().get(turns) || turns.size() < 2) continue;
    std::string_view from0, value0, from1, value1;
    if (turns.at(0)["from"].get_string().get(from0) || turns.at(0)["value"].get_string().get(value0) ||
        turns.at(1)["from"].get_string().get(from1) || turns.at(1)["value"].get_string().get(value1)) {
      continue;
    }
    if ((from0 != "human" && from0 != "user") || (from1 != "gpt" && from1 != "assistant")) continue;
    if (value0.empty() || value1.empty()) continue;
    BenchPrompt prompt;
    prompt.text = std::string(value0);
    prompt.input_tokens = estimate_tokens(value0);
    prompt.output_tokens = estimate_tokens(value1);
    pool.push_back(std::move(prompt));
  }
  if (pool.empty()) {
    throw std::runtime_error(
        fmt::format("{}: no conversation starts with a human turn followed by a gpt turn", origin));
  }
  std::mt19937_64 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<BenchPrompt> prompts;
  prompts.reserve(count);
  for (size_t i = 0; i < count; ++i) prompts.push_back(pool[i % pool.size()]);
  return prompts;
}

std::vector<BenchPrompt> load_sharegpt(const std::string& path, size_t count, uint64_t seed) {
  return parse_sharegpt(read_text_file(path), path, count, seed);
}

}  // namespace sabre::loadtest
