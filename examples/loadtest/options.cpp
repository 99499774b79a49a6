#include "options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

namespace sabre::loadtest {

namespace {

int64_t parse_int(std::string_view flag, std::string_view text, int64_t min) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min) {
    throw UsageError(fmt::format("{}: expected an integer >= {}, got '{}'", flag, min, text));
  }
  return value;
}

double parse_positive(std::string_view flag, std::string_view text) {
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(std::string(text), &used);
    if (used != text.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw UsageError(fmt::format("{}: expected a positive number, got '{}'", flag, text));
  }
  if (!(value > 0)) throw UsageError(fmt::format("{}: expected a positive number, got '{}'", flag, text));
  return value;
}

void parse_dataset(Options& options, std::string_view text) {
  options.dataset_text = std::string(text);
  if (text.substr(0, 7) == "random:") {
    const std::string_view rest = text.substr(7);
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      throw UsageError(fmt::format("--dataset: expected random:IN:OUT, got '{}'", text));
    }
    options.dataset_random = true;
    options.random_spec.input_tokens = parse_int("--dataset random:IN", rest.substr(0, colon), 1);
    options.random_spec.output_tokens = parse_int("--dataset random:IN:OUT", rest.substr(colon + 1), 1);
  } else if (text.substr(0, 9) == "sharegpt:" && text.size() > 9) {
    options.dataset_random = false;
    options.sharegpt_path = std::string(text.substr(9));
  } else {
    throw UsageError(fmt::format("--dataset: expected random:IN:OUT or sharegpt:FILE, got '{}'", text));
  }
}

}  // namespace

std::string usage_text() {
  return R"(Usage: sabre-loadtest --num-requests N (--request-rate R | --max-concurrency C)
                      --dataset random:IN:OUT | sharegpt:FILE [options]

Streams N requests at an OpenAI-compatible server (Sabre, vLLM, llama-server, ...) and reports request
and output-token throughput, time to first token (TTFT), time per output token after the first (TPOT),
inter-token latency (ITL) and end-to-end latency: mean, p50, p90, p99, as a table on stdout and
optionally as JSON. A progress bar goes to stderr.

  --url URL              server, http://host[:port][/prefix] (default http://127.0.0.1:8081)
  --endpoint PATH        /v1/completions (default) or /v1/chat/completions
  --api-key KEY          sent as "Authorization: Bearer KEY"
  --model NAME           the "model" field; omitted when not given
  --num-requests N       how many requests to send (required)
  --request-rate R       mean arrival rate in requests/s, Poisson-distributed ("inf": all at once)
  --max-concurrency C    at most C requests in flight (closed loop when no --request-rate)
                         at least one of --request-rate and --max-concurrency is required
  --dataset random:IN:OUT
                         prompts of IN tokens asking for exactly OUT tokens (ignore_eos): IN random
                         token ids from [256, --vocab-size) for completions, IN random common English
                         words (about one token each) for chat or with --random-prompt words
  --dataset sharegpt:FILE
                         ShareGPT JSON: first human turn as prompt, max_tokens = reply words x 1.3
  --vocab-size V         upper bound of random token ids (default 32000)
  --random-prompt ids|words
                         how random prompts are sent to /v1/completions (default ids)
  --ignore-eos           send ignore_eos with sharegpt prompts too
  --seed S               seed for prompts and arrival times (default 0)
  --timeout S            fail a request after S seconds without data (default 600)
  --json FILE            also write the results as JSON to FILE
  --no-progress          no progress bar
  --help                 this text

Exit status: 0 when at least one request succeeded, 1 when none did or the server is unreachable,
2 for a bad command line.
)";
}

Options parse_options(int argc, const char* const* argv) {
  Options options;
  bool have_dataset = false;
  bool have_num_requests = false;
  std::string random_prompt = "ids";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool inline_value = false;
    if (arg.substr(0, 2) == "--") {
      if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inline_value = true;
      }
    }
    auto next = [&]() -> std::string_view {
      if (inline_value) return value;
      if (i + 1 >= argc) throw UsageError(fmt::format("{}: missing value", arg));
      return argv[++i];
    };
    auto no_value = [&] {
      if (inline_value) throw UsageError(fmt::format("{}: takes no value", arg));
    };
    if (arg == "--help" || arg == "-h") {
      no_value();
      options.help = true;
    } else if (arg == "--url") {
      try {
        options.url = parse_http_url(next());
      } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("--url: {}", e.what()));
      }
    } else if (arg == "--api-key") {
      options.api_key = std::string(next());
    } else if (arg == "--num-requests") {
      options.num_requests = parse_int(arg, next(), 1);
      have_num_requests = true;
    } else if (arg == "--request-rate") {
      const std::string_view text = next();
      options.request_rate = text == "inf" ? INFINITY : parse_positive(arg, text);
    } else if (arg == "--max-concurrency") {
      options.max_concurrency = parse_int(arg, next(), 1);
    } else if (arg == "--dataset") {
      parse_dataset(options, next());
      have_dataset = true;
    } else if (arg == "--vocab-size") {
      const int64_t vocab = parse_int(arg, next(), kFirstRandomTokenId + 1);
      if (vocab > INT32_MAX) throw UsageError("--vocab-size: too large");
      options.random_spec.vocab_size = static_cast<int32_t>(vocab);
    } else if (arg == "--random-prompt") {
      random_prompt = std::string(next());
      if (random_prompt != "ids" && random_prompt != "words") {
        throw UsageError(fmt::format("--random-prompt: expected ids or words, got '{}'", random_prompt));
      }
    } else if (arg == "--ignore-eos") {
      no_value();
      options.ignore_eos = true;
    } else if (arg == "--seed") {
      options.seed = static_cast<uint64_t>(parse_int(arg, next(), 0));
    } else if (arg == "--timeout") {
      options.timeout_s = parse_positive(arg, next());
    } else if (arg == "--json") {
      options.json_path = std::string(next());
    } else if (arg == "--model") {
      options.model = std::string(next());
    } else if (arg == "--endpoint") {
      options.endpoint = std::string(next());
      if (options.endpoint == "/v1/completions") {
        options.api = ApiKind::completions;
      } else if (options.endpoint == "/v1/chat/completions") {
        options.api = ApiKind::chat;
      } else {
        throw UsageError(fmt::format(
            "--endpoint: expected /v1/completions or /v1/chat/completions, got '{}'", options.endpoint));
      }
    } else if (arg == "--no-progress") {
      no_value();
      options.progress = false;
    } else {
      throw UsageError(fmt::format("unknown flag '{}'", argv[i]));
    }
  }
  if (options.help) return options;
  if (!have_num_requests) throw UsageError("--num-requests: required");
  if (!have_dataset) throw UsageError("--dataset: required (random:IN:OUT or sharegpt:FILE)");
  if (!options.request_rate && !options.max_concurrency) {
    throw UsageError("--request-rate or --max-concurrency: give at least one");
  }
  // Chat messages are text, so random chat prompts are words whatever --random-prompt says.
  options.random_spec.kind = random_prompt == "words" || options.api == ApiKind::chat
                                 ? RandomPromptKind::words
                                 : RandomPromptKind::token_ids;
  if (options.dataset_random) options.ignore_eos = true;
  return options;
}

}  // namespace sabre::loadtest
