// sabre-server: loads a model into the engine and serves the OpenAI/BladeLLM HTTP API.
//
//   sabre-server --model DIR_OR_GGUF [--port 8081] [--host 0.0.0.0] [--api-key KEY] ...   (--help lists all)
//
// SIGINT/SIGTERM: stop accepting, end the streams in flight with a final chunk, stop the engine, exit 0,
// all within 10 s (an engine step still running then, e.g. a long prefill, is not waited for).
// If the engine stops by itself (a rank failed: its requests have ended with an error), the server shuts
// down the same way and exits 1.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <optional>
#include <csignal>
#include <iostream>

#include "actors/engine.hpp"
#include "config/server_options.hpp"
#include "io/http/http_listener.hpp"
#include "io/openai/model_context.hpp"
#include "model/checkpoint.hpp"

namespace {

// From SIGINT/SIGTERM to exit: streams in flight get their final chunks, then the engine stops.
constexpr std::chrono::seconds kShutdownGrace{10};

sabre::EngineInfo engine_info(caf::actor_system& system, const sabre::engine_actor& engine) {
  caf::scoped_actor self{system};
  sabre::EngineInfo info;
  self->request(engine, std::chrono::seconds(30), sabre::info_atom::value)
      .receive([&](const sabre::EngineInfo& reply) { info = reply; },
               [&](const caf::error& error) {
                 throw std::runtime_error("the engine did not report its model: " + system.render(error));
               });
  return info;
}

// Asks the listener to bind; throws with the listener's reason (the address and why) when it cannot.
uint16_t start_listening(caf::actor_system& system, const sabre::http::http_listener_actor& listener) {
  caf::scoped_actor self{system};
  uint16_t port = 0;
  self->request(listener, std::chrono::seconds(30), sabre::http::listen_atom::value)
      .receive([&](uint16_t bound) { port = bound; },
               [&](const caf::error& error) { throw std::runtime_error(system.render(error)); });
  return port;
}

// Graceful stop: the listener stops accepting, ends the streams in flight and quits.
void stop_listening(caf::actor_system& system, const sabre::http::http_listener_actor& listener,
                    std::chrono::milliseconds grace) {
  caf::scoped_actor self{system};
  self->request(listener, grace + std::chrono::seconds(5), sabre::http::shutdown_atom::value,
                static_cast<int64_t>(grace.count()))
      .receive([&](uint64_t aborted) { spdlog::info("listener stopped ({} generation(s) were in flight)", aborted); },
               [&](const caf::error& error) { spdlog::warn("listener stop: {}", system.render(error)); });
}

// Ends the process at `deadline` unless disarmed first (by its destruction). Armed once a graceful stop
// begins: a step in flight (a long prefill on a slow or loaded machine) cannot be interrupted, and the
// actor system's teardown waits for it, but by the deadline every client has had its final chunk, so
// the process ends then rather than overstay the grace the operator was promised.
class ShutdownWatchdog {
 public:
  void arm(std::chrono::steady_clock::time_point deadline, int status) {
    thread_ = std::jthread([this, deadline, status](std::stop_token stop) {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, stop, deadline, [] { return false; });  // until the deadline or disarmed
      if (stop.stop_requested()) return;
      spdlog::warn("shutdown: the engine has not stopped within the {} s grace (a step still running): exiting",
                   kShutdownGrace.count());
      spdlog::default_logger()->flush();
      std::_Exit(status);
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // declared last: stopped and joined first
};

// Watches the engine: if it goes down while serving, the server stops as if it had received SIGTERM.
caf::actor watch_engine(caf::actor_system& system, const sabre::engine_actor& engine, std::atomic<bool>& engine_died) {
  return system.spawn([engine, &engine_died](caf::event_based_actor* self) -> caf::behavior {
    self->monitor(engine);
    self->set_down_handler([self, &engine_died](caf::down_msg& msg) {
      spdlog::error("the engine stopped ({}): shutting the server down", self->system().render(msg.reason));
      engine_died = true;
      std::raise(SIGTERM);
      self->quit();
    });
    return {[](int) {}};
  });
}

int serve(const sabre::ServerOptions& options, ShutdownWatchdog& watchdog) {
  caf::actor_system_config config;
  sabre::add_engine_message_types(config);
  caf::actor_system system{config};

  // The model's files are read once: the engine uploads the weights, and the HTTP layer shares the served
  // model (the tokenizer parsed once, the chat template's texts) with it.
  sabre::Checkpoint checkpoint = sabre::open_checkpoint(options.engine.model, options.engine.weights.load_format);
  const auto served = std::make_shared<const sabre::ServedModel>(
      sabre::describe_served_model(checkpoint, options.engine.tokenizer));
  const sabre::engine_actor engine = sabre::spawn_engine(system, options.engine, std::move(checkpoint), served);
  std::atomic<bool> engine_died{false};
  caf::actor watcher;
  int status = 0;
  std::optional<std::chrono::steady_clock::time_point> shutdown_deadline;  // set by a signal's graceful stop
  try {
    const sabre::EngineInfo info = engine_info(system, engine);
    sabre::openai::ModelContext model_context =
        sabre::openai::load_model_context(*served, options.http.chat_template, info.model_name, info.max_model_len);
    model_context.max_num_seqs = info.max_num_seqs;
    model_context.kv_block_size = info.kv_block_size;
    model_context.kv_blocks = info.kv_blocks_total;
    model_context.stream_format = sabre::openai::parse_stream_format(options.http.stream_format);
    if (options.http.tool_call_parser != "auto") {
      model_context.tool_call_format = *sabre::openai::parse_tool_call_format(options.http.tool_call_parser);
    }
    auto context = std::make_shared<const sabre::openai::ModelContext>(std::move(model_context));

    sabre::http::HttpListenerSetup setup;
    setup.config.host = options.http.host;
    setup.config.port = options.http.port;
    setup.config.api_key = options.http.api_key;
    setup.engine = engine;
    setup.context = std::move(context);
    const bool needs_key = !setup.config.api_key.empty();
    const auto listener = sabre::http::spawn_http_listener(system, std::move(setup));

    // Signals are caught before the listener starts so that a SIGTERM right after start-up is graceful.
    boost::asio::io_context signal_context;
    boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);
    int received = 0;
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (!ec) received = signal;
    });
    try {
      // After the signals are caught: an engine that dies now turns into a graceful stop.
      watcher = watch_engine(system, engine, engine_died);
      const uint16_t port = start_listening(system, listener);
      spdlog::info("serving {} (max_model_len {}) on http://{}:{}{}", info.model_name, info.max_model_len,
                   options.http.host, port, needs_key ? " (API key required)" : "");
      signal_context.run();
      // The stop is under way and bounded by the grace: a second signal (an impatient Ctrl-C, a
      // supervisor repeating SIGTERM) must not kill the process half-way through it.
      boost::system::error_code ignored;
      signals.clear(ignored);
      std::signal(SIGINT, SIG_IGN);
      std::signal(SIGTERM, SIG_IGN);
      if (engine_died) {
        status = 1;
      } else {
        spdlog::info("{}: shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
      }
    } catch (...) {
      stop_listening(system, listener, std::chrono::milliseconds(0));
      throw;
    }
    shutdown_deadline = std::chrono::steady_clock::now() + kShutdownGrace;
    stop_listening(system, listener, kShutdownGrace);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    status = 1;
  }
  // The watcher goes first: the engine's normal stop must not look like a failure.
  if (watcher) {
    caf::scoped_actor self{system};
    self->send_exit(watcher, caf::exit_reason::user_shutdown);
    self->wait_for(watcher);
  }
  // The actor system's teardown (when this returns) waits for the engine's actors.
  if (shutdown_deadline) watchdog.arm(*shutdown_deadline, status);
  sabre::stop_engine(engine);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  sabre::ServerOptions options;
  try {
    options = sabre::server_options_from_command_line(argc, argv);
  } catch (const sabre::OptionsError& e) {
    std::cerr << "sabre-server: " << e.what() << "\n(see sabre-server --help)\n";
    return 2;
  }
  if (options.help) {
    std::cout << sabre::server_help_text();
    return 0;
  }
  if (options.version) {
    std::cout << "sabre-server 0.1.0\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(options.http.log_level));
  for (const std::string& warning : options.warnings) spdlog::warn("{}", warning);
  ShutdownWatchdog watchdog;  // outlives serve()'s actor system, whose teardown it bounds
  try {
    return serve(options, watchdog);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
