#include "io/openai/completion_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "io/openai/output_constraints.hpp"
#include "io/openai/request_fields.hpp"
#include "io/openai/sampling_fields.hpp"

namespace sabre::openai {

namespace {

using simdjson::dom::element;

std::vector<int32_t> token_id_list(const simdjson::dom::array& items, const std::string& param, int64_t vocab) {
  std::vector<int32_t> ids;
  size_t i = 0;
  for (element item : items) {
    ids.push_back(static_cast<int32_t>(integer_value(item, fmt::format("{}[{}]", param, i++), 0, vocab - 1)));
  }
  if (ids.empty()) reject(param, fmt::format("'{}' must not be an empty list of token ids", param));
  return ids;
}

CompletionPrompt text_prompt(std::string text, const std::string& param, const ModelContext& context,
                             bool add_special_tokens) {
  if (!context.tokenizer) reject(param, "this model has no tokenizer: send the prompt as token ids");
  if (text.empty()) reject(param, fmt::format("'{}' must not be empty", param));
  CompletionPrompt prompt;
  prompt.token_ids = context.tokenizer->encode(text, add_special_tokens);
  if (prompt.token_ids.empty()) reject(param, fmt::format("'{}' encodes to no tokens", param));
  prompt.text = std::move(text);
  return prompt;
}

CompletionPrompt ids_prompt(std::vector<int32_t> ids, const ModelContext& context) {
  CompletionPrompt prompt;
  if (context.tokenizer) prompt.text = context.tokenizer->decode(ids, /*skip_special_tokens=*/false);
  prompt.token_ids = std::move(ids);
  return prompt;
}

// The four shapes of `prompt`.
std::vector<CompletionPrompt> read_prompts(const RequestFields& fields, const ModelContext& context,
                                           bool add_special_tokens) {
  const auto prompt = fields.get("prompt");
  if (!prompt) reject("prompt", "'prompt' is required");
  const int64_t vocab = context.effective_vocab_size();
  std::vector<CompletionPrompt> prompts;
  if (prompt->is_string()) {
    prompts.push_back(text_prompt(std::string(prompt->get_string().value()), "prompt", context, add_special_tokens));
    return prompts;
  }
  simdjson::dom::array items;
  if (prompt->get_array().get(items)) {
    reject("prompt", fmt::format("'prompt' must be a string, a list of strings, a list of token ids or a list of "
                                 "lists of token ids, got {}",
                                 describe_json_type(*prompt)));
  }
  if (items.size() == 0) reject("prompt", "'prompt' must not be an empty list");
  const element first = items.at(0).value();
  if (first.is_number()) {
    prompts.push_back(ids_prompt(token_id_list(items, "prompt", vocab), context));
    return prompts;
  }
  if (static_cast<int64_t>(items.size()) > context.max_choices) {
    reject("prompt", fmt::format("'prompt' holds {} prompts, at most {} are allowed per request", items.size(),
                                 context.max_choices));
  }
  const bool strings = first.is_string();
  size_t i = 0;
  for (element item : items) {
    const std::string param = fmt::format("prompt[{}]", i++);
    if (strings) {
      prompts.push_back(text_prompt(string_value(item, param), param, context, add_special_tokens));
      continue;
    }
    simdjson::dom::array ids;
    if (item.get_array().get(ids)) {
      reject(param, fmt::format("'{}' must be a list of token ids like the first prompt, got {}", param,
                                describe_json_type(item)));
    }
    prompts.push_back(ids_prompt(token_id_list(ids, param, vocab), context));
  }
  return prompts;
}

CompletionPlan build_plan(std::string_view body, const ModelContext& context) {
  simdjson::dom::parser parser;
  const RequestFields fields(parse_body_object(parser, body));
  check_model_field(fields, context);
  const std::optional<OutputConstraint> constraint = read_output_constraint(fields);
  const std::string guided_field = constraint ? constraint->field : "guided_decoding";

  CompletionPlan plan;
  plan.id = make_response_id("cmpl-");
  plan.created = static_cast<int64_t>(std::time(nullptr));
  plan.model = context.served_model_name;

  if (fields.get("suffix")) reject("suffix", "'suffix' is not supported");
  GenerationRequest common;
  // 0 only with echo (below): the prompt alone, scored when logprobs are asked for.
  common.max_tokens = fields.integer("max_tokens", 0, INT64_MAX).value_or(16);
  read_sampling_fields(fields, context, common);
  if (constraint) common.sampling.guided = constraint->guided;
  plan.n = common.n;

  const StreamFields stream = read_stream_fields(fields);
  plan.stream = stream.stream;
  plan.include_usage = stream.include_usage;
  plan.stream_format = context.stream_format.value_or(StreamFormat::bladellm);
  plan.echo = fields.boolean("echo").value_or(false);
  if (common.max_tokens == 0) {
    if (!plan.echo) reject("max_tokens", "'max_tokens' must be at least 1 (0 only with 'echo', for the prompt alone)");
    // The engine always samples a token; the responses leave it out.
    plan.echo_only = true;
    common.max_tokens = 1;
  }
  plan.logprobs = fields.integer("logprobs", 0, context.max_logprobs);
  plan.return_tokens_as_token_ids = fields.boolean("return_tokens_as_token_ids").value_or(false);
  plan.prompt_logprobs = read_prompt_logprobs(fields, stream, context);
  if (plan.logprobs) {
    common.logprobs = true;
    common.sampling.top_logprobs = *plan.logprobs;
  }
  // Echo with logprobs reports the prompt's tokens too: the engine scores them.
  common.prompt_logprobs = plan.prompt_logprobs;
  if (plan.echo && plan.logprobs) {
    common.prompt_logprobs = std::max(common.prompt_logprobs, static_cast<int32_t>(*plan.logprobs));
  }
  if (auto user = fields.get("user"); user && !user->is_string()) {
    reject("user", fmt::format("'user' must be a string, got {}", describe_json_type(*user)));
  }

  const bool add_special_tokens = fields.boolean("add_special_tokens").value_or(true);
  plan.prompts = read_prompts(fields, context, add_special_tokens);
  if (static_cast<int64_t>(plan.prompts.size()) * plan.n > context.max_choices) {
    reject("n", fmt::format("{} prompts with n = {} make {} choices, at most {} are allowed per request",
                            plan.prompts.size(), plan.n, plan.prompts.size() * plan.n, context.max_choices));
  }
  for (size_t i = 0; i < plan.prompts.size(); ++i) {
    const std::string param = plan.prompts.size() == 1 ? "prompt" : fmt::format("prompt[{}]", i);
    GenerationRequest request = common;
    request.prompt_token_ids = plan.prompts[i].token_ids;
    check_request(request, context, {param, "max_tokens", guided_field});
    plan.requests.push_back(std::move(request));
  }
  return plan;
}

}  // namespace

Expected<CompletionPlan, ApiError> parse_completion_request(std::string_view body, const ModelContext& context) {
  try {
    return build_plan(body, context);
  } catch (const ApiException& e) {
    return e.error();
  }
}

}  // namespace sabre::openai
