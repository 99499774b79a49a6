// Embedding Sabre in your own CAF system: this program owns an actor_system, spawns the engine in it,
// sends several requests at once from a "printer" actor of its own, and prints the tokens as they
// stream back, tagged by request. No HTTP anywhere: the engine is just actors.
//
//   sabre-embed [--model PATH] [--tokenizer DIR] [--max-tokens N] [--threads N] [--tensor-parallel-size N] [PROMPT ...]
#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "actors/engine.hpp"

namespace {

struct Options {
  std::string model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string tokenizer;  // directory with tokenizer.json, when not beside the model
  int64_t max_tokens = 24;
  unsigned threads = 0;
  int64_t tensor_parallel_size = 1;
  std::vector<std::string> prompts;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--tokenizer") o.tokenizer = value();
    else if (arg == "--max-tokens") o.max_tokens = std::stoll(value());
    else if (arg == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--tensor-parallel-size" || arg == "--tp") o.tensor_parallel_size = std::stoll(value());
    else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: sabre-embed [--model PATH] [--tokenizer DIR] [--max-tokens N] [--threads N] [--tensor-parallel-size N] "
                   "[PROMPT ...]\n";
      std::exit(0);
    } else if (arg.starts_with("--")) throw std::runtime_error(fmt::format("unknown flag {}", arg));
    else o.prompts.push_back(arg);
  }
  if (o.prompts.empty()) {
    o.prompts = {"The capital of France is", "Water boils at a temperature of", "The three primary colors are",
                 "A haiku about autumn:"};
  }
  return o;
}

// The application's own actor: implements Sabre's generation_sink interface, starts every request,
// prints deltas as they come and quits when every request has finished.
struct PrinterState {
  std::map<std::string, std::string> prompt_of;
  size_t open = 0;
};

sabre::generation_sink::behavior_type printer(sabre::generation_sink::stateful_pointer<PrinterState> self,
                                              sabre::engine_actor engine, Options options) {
  for (const std::string& prompt : options.prompts) {
    sabre::GenerationRequest request;
    request.prompt = prompt;
    request.max_tokens = options.max_tokens;
    request.sampling.temperature = 0;
    ++self->state.open;
    self->request(engine, caf::infinite, sabre::generate_atom::value, request,
                  caf::actor_cast<sabre::generation_sink>(self))
        .then([self, prompt](const std::string& id) {
          self->state.prompt_of[id] = prompt;
          std::cout << fmt::format("[{}] started: {:?}\n", id, prompt);
        });
  }
  return {
      [](const sabre::TokenDelta& delta) {
        std::cout << fmt::format("[{}] +{} token(s): {:?}\n", delta.request_id, delta.token_ids.size(), delta.text);
      },
      [self](const sabre::GenerationFinished& done) {
        if (done.finish_reason == sabre::FinishReason::error) {
          std::cout << fmt::format("[{}] error ({}): {}\n", done.request_id, done.error_type, done.error_message);
        } else {
          std::cout << fmt::format(
              "[{}] finished: {} after {} tokens; queue {:.1f} ms, first token {:.1f} ms, total {:.1f} ms\n",
              done.request_id, sabre::finish_reason_name(done.finish_reason), done.usage.completion_tokens, done.timings.queue_seconds * 1e3,
              done.timings.time_to_first_token * 1e3, done.timings.end_to_end_seconds * 1e3);
        }
        if (--self->state.open == 0) self->quit();
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    caf::actor_system_config config;
    sabre::add_engine_message_types(config);
    caf::actor_system system{config};

    sabre::EngineOptions engine_options;
    engine_options.model = options.model;
    engine_options.tokenizer = options.tokenizer;
    engine_options.device.threads = options.threads;
    engine_options.parallel.tensor_parallel_size = options.tensor_parallel_size;
    engine_options.cache.kv_cache_bytes = int64_t{512} << 20;  // SmolLM2: 8192 tokens of context need 377 MB
    const sabre::engine_actor engine = sabre::spawn_engine(system, engine_options);

    {
      auto app = system.spawn(printer, engine, options);
      caf::scoped_actor self{system};
      self->wait_for(app);  // the printer quits when all requests have finished
    }
    sabre::stop_engine(engine);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
