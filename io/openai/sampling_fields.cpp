#include "io/openai/sampling_fields.hpp"

#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <random>

#include "io/openai/api_error.hpp"

namespace sabre::openai {

namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
// OpenAI's API reference: "Up to 4 sequences where the API will stop generating further tokens."
constexpr size_t kMaxStopSequences = 4;

void read_logit_bias(const RequestFields& fields, const ModelContext& context, SamplingParams& sampling) {
  const auto bias = fields.object("logit_bias");
  if (!bias) return;
  const int64_t vocab = context.effective_vocab_size();
  for (auto [key, value] : bias->raw()) {
    const std::string param = fmt::format("logit_bias.{}", std::string_view(key));
    int64_t id = -1;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || key.empty()) {
      reject("logit_bias", fmt::format("'logit_bias' keys must be token ids, got \"{}\"", std::string_view(key)));
    }
    if (id < 0 || id >= vocab) {
      reject("logit_bias", fmt::format("'logit_bias' token id {} is outside the vocabulary (size {})", id, vocab));
    }
    if (!value.is_number()) {
      reject("logit_bias", fmt::format("'{}' must be a number, got {}", param, describe_json_type(value)));
    }
    const double v = value.is_double()  ? value.get_double().value()
                     : value.is_int64() ? static_cast<double>(value.get_int64().value())
                                        : static_cast<double>(value.get_uint64().value());
    if (!(v >= -100.0 && v <= 100.0)) {
      reject("logit_bias", fmt::format("'{}' must be between -100 and 100, got {}", param, v));
    }
    sampling.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(v);
  }
}

}  // namespace

void check_model_field(const RequestFields& fields, const ModelContext& context) {
  const auto model = fields.string("model");
  if (model && !model->empty() && *model != context.served_model_name) {
    ApiError error = ApiError::invalid_request(
        "model", fmt::format("The model '{}' does not exist: this server serves '{}'", *model,
                             context.served_model_name));
    error.code = "model_not_found";
    throw ApiException(std::move(error));
  }
}

void read_sampling_fields(const RequestFields& fields, const ModelContext& context, GenerationRequest& request) {
  SamplingParams& s = request.sampling;
  const double kHuge = std::numeric_limits<double>::max();
  if (auto v = fields.number("temperature", 0.0, 2.0)) s.temperature = *v;
  if (auto v = fields.number("top_p", 0.0, 1.0)) {
    if (*v <= 0.0) reject("top_p", fmt::format("'top_p' must be in (0, 1], got {}", *v));
    s.top_p = *v;
  }
  // vLLM spells "no top-k" as -1 as well as 0.
  if (auto v = fields.integer("top_k", -1, kInt64Max)) s.top_k = *v < 0 ? 0 : *v;
  if (auto v = fields.number("min_p", 0.0, 1.0)) s.min_p = *v;
  if (auto v = fields.number("presence_penalty", -2.0, 2.0)) s.presence_penalty = *v;
  if (auto v = fields.number("frequency_penalty", -2.0, 2.0)) s.frequency_penalty = *v;
  if (auto v = fields.number("repetition_penalty", 0.0, kHuge)) {
    if (*v <= 0.0) reject("repetition_penalty", fmt::format("'repetition_penalty' must be above 0, got {}", *v));
    s.repetition_penalty = *v;
  }
  if (auto v = fields.integer("seed", kInt64Min, kInt64Max)) {
    s.seed = static_cast<uint64_t>(*v);
    request.has_seed = true;
  }
  if (auto v = fields.integer("min_tokens", 0, kInt64Max)) s.min_tokens = *v;
  read_logit_bias(fields, context, s);

  const int64_t vocab = context.effective_vocab_size();
  if (auto ids = fields.integers("stop_token_ids", 0, vocab - 1)) {
    for (int64_t id : *ids) s.stop_token_ids.push_back(static_cast<int32_t>(id));
  }
  if (auto stop = fields.string_or_strings("stop")) {
    if (stop->size() > kMaxStopSequences) {
      reject("stop", fmt::format("'stop' holds {} sequences, at most {} are allowed", stop->size(), kMaxStopSequences));
    }
    for (size_t i = 0; i < stop->size(); ++i) {
      if ((*stop)[i].empty()) reject("stop", "'stop' strings must not be empty");
    }
    request.stop = std::move(*stop);
  }
  if (auto v = fields.boolean("ignore_eos")) request.ignore_eos = *v;
  if (auto v = fields.boolean("include_stop_str_in_output")) request.include_stop_str_in_output = *v;
  if (auto v = fields.boolean("skip_special_tokens")) request.skip_special_tokens = *v;
  if (auto v = fields.integer("n", 1, context.max_choices)) request.n = *v;
  if (auto best_of = fields.integer("best_of", 1, kInt64Max); best_of && *best_of != request.n) {
    reject("best_of", "'best_of' other than n is not supported yet");
  }
}

StreamFields read_stream_fields(const RequestFields& fields) {
  StreamFields out;
  if (auto v = fields.boolean("stream")) out.stream = *v;
  if (auto options = fields.object("stream_options")) {
    if (!out.stream) reject("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (auto v = options->boolean("include_usage")) out.include_usage = *v;
  }
  return out;
}

int32_t read_prompt_logprobs(const RequestFields& fields, const StreamFields& stream, const ModelContext& context) {
  const std::optional<int64_t> k = fields.integer("prompt_logprobs", 0, context.max_logprobs);
  if (!k) return -1;
  if (stream.stream) reject("prompt_logprobs", "'prompt_logprobs' is not available when 'stream' is true");
  return static_cast<int32_t>(*k);
}

void check_request(const GenerationRequest& request, const ModelContext& context, const RequestFieldNames& names) {
  if (auto problem = check_generation_request(request, request.prompt_token_ids, context.request_limits(), names)) {
    reject(std::move(problem->param), std::move(problem->message));
  }
}

std::string make_response_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:016x}", prefix, rng(), rng());
}

}  // namespace sabre::openai
