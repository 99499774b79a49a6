#pragma once
// The prompts a load test sends. `random:IN:OUT` needs no tokenizer and no file: by default each prompt
// is IN random token ids (completions accept `"prompt": [ids]`), so the server sees exactly IN prompt
// tokens; as text (chat endpoints, or --random-prompt words) it is IN random common English words,
// which BPE tokenizers of the Llama/Qwen/SmolLM families mostly encode as one token each (the server's
// usage.prompt_tokens, shown in the report, says how close it came). `sharegpt:FILE` reads the ShareGPT
// JSON export: the first human turn is the prompt and the reply's length, estimated as whitespace words
// x 1.3, becomes max_tokens.

#include <cstdint>
#include <string>
#include <vector>

namespace sabre::loadtest {

struct BenchPrompt {
  std::string text;               // used when prompt_ids is empty
  std::vector<int32_t> prompt_ids;
  int64_t input_tokens = 0;       // exact for ids, estimated for text
  int64_t output_tokens = 0;      // sent as max_tokens
};

enum class RandomPromptKind { token_ids, words };

struct RandomDatasetSpec {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int32_t vocab_size = 32000;  // ids are drawn from [kFirstRandomTokenId, vocab_size)
  RandomPromptKind kind = RandomPromptKind::token_ids;
};

// Ids below this are left out: tokenizers put their special and byte tokens at the start.
inline constexpr int32_t kFirstRandomTokenId = 256;

// `count` prompts, reproducible from `seed`. Throws std::invalid_argument on a bad spec.
std::vector<BenchPrompt> make_random_dataset(const RandomDatasetSpec& spec, size_t count, uint64_t seed);

// The whitespace-separated words of `text` x 1.3, rounded, at least 1: a tokenizer-free estimate.
int64_t estimate_tokens(std::string_view text);

// Parses a ShareGPT JSON document (an array of {"conversations": [{"from", "value"}, ...]}); keeps the
// conversations whose first turn is a non-empty human/user turn followed by a gpt/assistant turn.
// Shuffles them with `seed` and returns `count` of them (repeating the list when it is shorter).
// Throws std::runtime_error naming `origin` when the JSON is malformed or no conversation qualifies.
std::vector<BenchPrompt> parse_sharegpt(std::string_view json, const std::string& origin, size_t count,
                                        uint64_t seed);
std::vector<BenchPrompt> load_sharegpt(const std::string& path, size_t count, uint64_t seed);

}  // namespace sabre::loadtest
