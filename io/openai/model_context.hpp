#pragma once
// What the protocol codec needs to know about the served model: its name (requests naming another
// model are refused), its tokenizer (prompts are tokenized here, so that the prompt's length is known
// before the first streamed chunk and checked against the limits with a clear 400), its chat template
// and the model's and engine's limits (check_generation_request). Built once by the server from the
// served model the engine was given and from EngineInfo; shared, read-only, by every request thread.

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "actors/request_check.hpp"
#include "io/openai/stream_format.hpp"
#include "io/openai/tool_calls.hpp"
#include "model/chat/chat_template.hpp"
#include "model/served_model.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre::openai {

struct ModelContext {
  std::string served_model_name;
  std::string model_root;                                    // the model's path, shown by /v1/models
  std::shared_ptr<const Tokenizer> tokenizer;                // null: only token-id prompts are accepted
  std::shared_ptr<const chat::ChatTemplate> chat_template;   // null: chat requests get a 400 saying so
  int64_t max_model_len = 4096;                              // prompt + completion tokens at most
  int64_t vocab_size = 0;                                    // token ids must be below; 0: the tokenizer's
  int64_t max_num_seqs = INT64_MAX;                          // the engine's: samples of one request at most
  int64_t kv_block_size = 16;                                // the engine's KV pool; 0 blocks: unknown
  int64_t kv_blocks = 0;
  int64_t max_choices = 256;                                 // prompts x n at most, per request
  int64_t max_logprobs = 20;                                 // logprobs / top_logprobs at most
  std::optional<StreamFormat> stream_format;                 // --stream-format; unset: each endpoint's own
  std::shared_ptr<structured::GuidedCompiler> guided;        // null: guided decoding is refused (no tokenizer)
  ToolCallFormat tool_call_format = ToolCallFormat::none;    // how "auto" tool calls are read from the text
  int64_t created = static_cast<int64_t>(std::time(nullptr));  // the model's "created" in /v1/models

  int64_t effective_vocab_size() const {
    if (vocab_size > 0) return vocab_size;
    return tokenizer ? static_cast<int64_t>(tokenizer->vocab_size()) : INT32_MAX;
  }
  RequestLimits request_limits() const {
    return {effective_vocab_size(), max_model_len, max_num_seqs, kv_block_size, kv_blocks, guided};
  }
};

}  // namespace sabre::openai

namespace sabre::openai {

// Builds the context from the served model (the engine holds the same one, the tokenizer included):
// - the chat template from `chat_template_file` (--chat-template) when given, else the model's own
//   (chat_template.jinja or tokenizer_config.json's "chat_template"); none when the model has none.
//   Special tokens come from tokenizer_config.json either way;
// - `served_model_name` and `max_model_len` as the engine reports them (EngineInfo).
// Throws std::runtime_error naming the file when a template is present but broken.
ModelContext load_model_context(const ServedModel& model, const std::filesystem::path& chat_template_file,
                                std::string served_model_name, int64_t max_model_len);

// The same from an opened checkpoint, its tokenizer taken from `tokenizer_dir` (--tokenizer) when given
// (describe_served_model): for tools and tests that have no engine.
ModelContext load_model_context(const Checkpoint& checkpoint, const std::filesystem::path& tokenizer_dir,
                                const std::filesystem::path& chat_template_file, std::string served_model_name,
                                int64_t max_model_len);

}  // namespace sabre::openai
