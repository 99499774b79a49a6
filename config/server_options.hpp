#pragma once
// The command line of `sabre-server` (DESIGN.md, "Contracts"): vLLM-style flags, with dashes or
// underscores, `--flag value` or `--flag=value`, plus BladeLLM's spellings as aliases so that
// `blade_llm_server --port 8081 --model DIR ...` commands work with the binary swapped. Parsing checks
// syntax and types (unknown flags, missing values, numbers); validation checks the combination (ranges,
// files that must exist, features that do not exist yet) and notes flags that are accepted but have no
// effect on this build. Every error is an OptionsError whose message names the flag.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/engine_options.hpp"

namespace sabre {

class OptionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the HTTP listener needs.
struct HttpOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8081;                  // 0: any free port (tests)
  std::string api_key;                   // "": no authentication
  std::filesystem::path chat_template;   // a Jinja file replacing the model's template; empty: the model's
  std::string log_level = "info";        // spdlog's name: trace, debug, info, warn, err, critical, off
  std::string stream_format;             // "openai" or "bladellm" for both endpoints; "": each its own
  std::string tool_call_parser = "auto";  // how "auto" tool calls are read: auto (from the chat template),
                                          // hermes, llama3_json or none
};

struct ServerOptions {
  EngineOptions engine;  // every engine setting (model, device, cache, scheduler, parallel, speculative)
  HttpOptions http;

  // BladeLLM spellings parsed so that deployments that pass them start (or fail with a clear message);
  // see validate.
  std::string decode_algo = "normal";    // BladeLLM: normal, sps, look_ahead
  std::string preempt_strategy = "AUTO";  // BladeLLM: AUTO, RECOMPUTE, SWAP
  std::optional<double> max_queue_time;   // BladeLLM, seconds

  bool help = false;     // --help / -h: print server_help_text() and exit 0
  bool version = false;  // --version
  std::set<std::string> given;        // canonical names of the flags on the command line
  std::vector<std::string> warnings;  // filled by validate: accepted flags without effect here (log them)
};

// Looks up an environment variable (injectable for tests).
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup process_environment();

// Parses the arguments after the program name. Throws OptionsError naming the flag. --api-key falls
// back to the environment's SABRE_API_KEY.
ServerOptions parse_server_options(const std::vector<std::string>& args, const EnvLookup& env = process_environment());

// Checks the parsed options and fills `warnings`; throws OptionsError naming the flag. Not needed (and
// not run by parse) for --help / --version.
void validate_server_options(ServerOptions& options);

// Both, from main's arguments.
ServerOptions server_options_from_command_line(int argc, const char* const* argv,
                                               const EnvLookup& env = process_environment());

// The --help text.
std::string server_help_text(std::string_view program = "sabre-server");

// "2GiB", "512MiB", "1.5G", "4000000000": bytes. K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024,
// KB/MB/GB/TB powers of 1000. Throws OptionsError naming `flag`.
int64_t parse_byte_size(std::string_view text, std::string_view flag);

}  // namespace sabre
