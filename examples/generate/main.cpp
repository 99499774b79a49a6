// sabre-generate: loads a model, runs one prompt through the forward pass and prints the continuation,
// streamed as plain text or as one JSON object (--json) with ids, logprobs and speeds.

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "config/text/read_file.hpp"
#include "json_output.hpp"
#include "model/chat/chat_template.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "model/rank_group.hpp"
#include "model/draft_model.hpp"
#include "model/speculative_generator.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "options.hpp"

namespace {

using namespace sabre;
using namespace sabre::generate_cli;

// Speculative decoding on one rank: prompt lookup, or a draft model loaded here (its own checkpoint,
// kept as stored: a GGUF stays quantised) on the target's backend.
GenerationResult generate_with_speculation(const Options& options, Transformer& target, std::span<const int32_t> prompt,
                                           const GenerationOptions& generation, const TokenCallback& on_token,
                                           SpeculationStats& stats) {
  if (options.speculative_method == "ngram") {
    PromptLookupProposer lookup;
    return generate_speculative(target, lookup, options.speculative_steps, prompt, generation, on_token, &stats);
  }
  WeightOptions draft_weights = options.weights;
  draft_weights.gguf = options.draft_gguf;  // --gguf-weights is the target's
  const std::unique_ptr<Transformer> draft =
      load_draft_model(*options.draft_model, draft_weights, target.config().vocab_size, target.backend());
  DraftModelProposer proposer(*draft, target.config().vocab_size,
                              static_cast<int64_t>(prompt.size()) + generation.max_new_tokens +
                                  options.speculative_steps + 1);
  return generate_speculative(target, proposer, options.speculative_steps, prompt, generation, on_token, &stats);
}

// Every rank of the group runs the same generation (their collectives meet in each step, and they
// sample alike from the same gathered logits and seed); rank 0, on this thread, reports the tokens.
// A rank that fails aborts the group's collectives so that no other waits on it.
GenerationResult generate_on_ranks(const RankGroup& ranks, std::span<const int32_t> prompt,
                                   const GenerationOptions& generation, const TokenCallback& on_token) {
  std::vector<std::exception_ptr> errors(ranks.models.size());
  std::vector<std::thread> others;
  for (size_t r = 1; r < ranks.models.size(); ++r) {
    others.emplace_back([&, r] {
      try {
        generate(*ranks.models[r], prompt, generation);
      } catch (...) {
        errors[r] = std::current_exception();
        ranks.abort_collectives();
      }
    });
  }
  GenerationResult result;
  try {
    result = generate(*ranks.models[0], prompt, generation, on_token);
  } catch (...) {
    errors[0] = std::current_exception();
    ranks.abort_collectives();
  }
  for (auto& t : others) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return result;
}

struct TokenizerFiles {
  std::string tokenizer_json, tokenizer_config_json, chat_template_jinja, origin;
};

TokenizerFiles tokenizer_files(const Options& options, const Checkpoint& checkpoint) {
  if (options.tokenizer_dir) {
    const std::filesystem::path dir = *options.tokenizer_dir;
    TokenizerFiles files{read_text_file(dir / "tokenizer.json"), "", "", dir.string()};
    if (std::filesystem::exists(dir / "tokenizer_config.json")) {
      files.tokenizer_config_json = read_text_file(dir / "tokenizer_config.json");
    }
    if (std::filesystem::exists(dir / "chat_template.jinja")) {
      files.chat_template_jinja = read_text_file(dir / "chat_template.jinja");
    }
    return files;
  }
  return {checkpoint.tokenizer_json, checkpoint.tokenizer_config_json, checkpoint.chat_template_jinja,
          checkpoint.path.string()};
}

// The prompt rendered as one user turn of the model's chat template, ready for the assistant's answer.
std::string chat_prompt(const TokenizerFiles& files, const std::string& prompt) {
  if (files.tokenizer_config_json.empty()) {
    throw std::runtime_error(fmt::format("--chat: {} has no tokenizer_config.json with a chat template",
                                         files.origin));
  }
  std::optional<std::string> separate_template;
  if (!files.chat_template_jinja.empty()) separate_template = files.chat_template_jinja;
  const auto chat = chat::ChatTemplate::from_tokenizer_config_json(
      files.tokenizer_config_json, files.origin + "/tokenizer_config.json", separate_template);
  const std::string request = fmt::format(R"({{"messages": [{{"role": "user", "content": {}}}], )"
                                          R"("add_generation_prompt": true}})",
                                          json_string(prompt));
  return chat.render(chat::ChatRequest::from_json(request, "--prompt"));
}

SamplingParams sampling_params(const Options& options, const GenerationDefaults& defaults, uint64_t seed) {
  SamplingParams params;
  params.seed = seed;
  // Like vLLM: generation_config.json supplies the defaults; do_sample false there means greedy.
  params.temperature = defaults.do_sample == false ? 0.0 : defaults.temperature.value_or(1.0);
  params.top_p = defaults.top_p.value_or(1.0);
  params.top_k = defaults.top_k.value_or(0);
  if (options.temperature) params.temperature = *options.temperature;
  if (options.top_p) params.top_p = *options.top_p;
  if (options.top_k) params.top_k = *options.top_k;
  return params;
}

int run(const Options& options) {
  Checkpoint checkpoint = open_checkpoint(options.model, options.weights.load_format);
  const TokenizerFiles files = tokenizer_files(options, checkpoint);
  std::optional<Tokenizer> tokenizer;
  if (!files.tokenizer_json.empty()) {
    tokenizer.emplace(Tokenizer::from_json(files.tokenizer_json, files.origin + "/tokenizer.json"));
  }

  std::vector<int32_t> prompt_ids;
  if (options.prompt_ids) {
    prompt_ids = *options.prompt_ids;
  } else {
    if (!tokenizer) {
      throw std::runtime_error(fmt::format("--prompt needs a tokenizer, and {} has no tokenizer.json; give "
                                           "--tokenizer DIR or --prompt-ids",
                                           checkpoint.path.string()));
    }
    if (options.chat) {
      const std::string rendered = chat_prompt(files, *options.prompt);
      spdlog::debug("chat prompt: {}", rendered);
      prompt_ids = tokenizer->encode(rendered, /*add_special_tokens=*/false);  // the template has the BOS
    } else {
      prompt_ids = tokenizer->encode(*options.prompt, /*add_special_tokens=*/true);
    }
  }

  const uint64_t seed = options.seed.value_or(std::random_device{}());
  GenerationOptions generation;
  generation.max_new_tokens = options.max_tokens;
  generation.sampling = sampling_params(options, checkpoint.generation, seed);
  generation.eos_token_ids = checkpoint.config.eos_token_ids;
  generation.ignore_eos = options.ignore_eos;
  generation.kv_cache_dtype = options.kv_cache_dtype;
  spdlog::info("{} prompt tokens; temperature {}, top_p {}, top_k {}, seed {}", prompt_ids.size(),
               generation.sampling.temperature, generation.sampling.top_p, generation.sampling.top_k, seed);

  EngineOptions load;
  load.device = options.device;
  load.weights = options.weights;
  load.parallel.tensor_parallel_size = options.tensor_parallel_size;
  load.cache.num_kv_blocks = 1;  // no shared pool: generate() gives the sequence a KV cache of its own
  const RankGroup ranks = load_rank_group(load, checkpoint, {}, 1);
  checkpoint.weights.reset();  // the backends hold their own converted copy; drop the file's (or GGUF's) one

  std::optional<IncrementalDecoder> stream;
  if (tokenizer && !options.json) stream.emplace(*tokenizer, /*skip_special_tokens=*/true, prompt_ids);
  const auto on_token = [&](int32_t token, float) {
    if (stream) {
      const std::string piece = stream->push(token);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
  SpeculationStats speculation;
  GenerationResult result;
  if (options.speculative_method.empty()) {
    result = generate_on_ranks(ranks, prompt_ids, generation, on_token);
  } else {
    result = generate_with_speculation(options, *ranks.models[0], prompt_ids, generation, on_token, speculation);
  }

  if (options.json) {
    std::optional<std::string> text;
    if (tokenizer) text = tokenizer->decode(result.tokens, /*skip_special_tokens=*/true);
    const std::string json = result_json(text ? &*text : nullptr, result, seed);
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
  } else if (stream) {
    const std::string rest = stream->flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
  } else {
    std::puts(fmt::format("{}", fmt::join(result.tokens, ",")).c_str());  // no tokenizer: the ids
  }
  std::fflush(stdout);  // the answer's last line before the summary log on stderr
  spdlog::info("{} tokens ({}): prompt {:.1f} tok/s, decode {:.1f} tok/s", result.tokens.size(),
               finish_reason_name(result.finish_reason), result.prompt_tokens_per_second(),
               result.decode_tokens_per_second());
  if (!options.speculative_method.empty()) {
    spdlog::info("speculative ({}, k = {}): {} passes, {} of {} proposed tokens accepted ({:.1f}%), {:.2f} tokens per "
                 "pass; {:.1f} ms proposing and {:.1f} ms verifying per pass",
                 options.speculative_method, options.speculative_steps, speculation.steps, speculation.accepted,
                 speculation.proposed, 100.0 * speculation.acceptance_rate(), speculation.tokens_per_step(),
                 speculation.steps ? 1e3 * speculation.propose_seconds / static_cast<double>(speculation.steps) : 0.0,
                 speculation.steps ? 1e3 * speculation.verify_seconds / static_cast<double>(speculation.steps) : 0.0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr so that stdout carries only the generated text or JSON.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sabre"));
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sabre-generate: %s\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(usage_text().c_str(), stdout);
    return 0;
  }
  spdlog::set_level(options.verbose ? spdlog::level::debug : spdlog::level::info);
  try {
    return run(options);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
