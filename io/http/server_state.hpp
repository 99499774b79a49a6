#pragma once
// What every connection of one HttpServer shares: its configuration, the router, the engine and actor
// system, the registry of generations in flight (aborted on shutdown) and the per-status request
// counters /metrics adds to the engine's figures.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "actors/interfaces.hpp"
#include "io/http/router.hpp"

namespace sabre::http {

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8081;  // 0: any free port
  std::string api_key;   // "": no authentication on /v1/*
  size_t max_body_bytes = size_t{8} << 20;
  size_t max_header_bytes = size_t{16} << 10;
  size_t max_header_fields = 100;
  // Reading one request (headers and body), and how long a keep-alive connection may sit idle.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  // Writing a plain response; streams have none, a reader that stops reading is dropped instead once
  // max_queued_bytes are waiting for it.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  size_t max_queued_bytes = size_t{16} << 20;
  unsigned threads = 2;  // Asio threads: HTTP work is light next to the model's
};

// Generations in flight, by a server-wide number, so that shutdown can reach them.
class GenerationRegistry {
 public:
  void reserve(uint64_t id);
  // Stores the actor unless the generation already ended (its exit ran first).
  void attach(uint64_t id, caf::actor sink);
  void remove(uint64_t id);
  // Sends `message` to every live generation (the drain atom at shutdown).
  template <class Atom>
  void broadcast(Atom message) {
    std::lock_guard lock(mutex_);
    for (auto& [id, sink] : live_) {
      if (sink) caf::anon_send(sink, message);
    }
  }
  size_t size() const;
  // True when none is left within `timeout`.
  bool wait_empty(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;
  std::condition_variable emptied_;
  std::map<uint64_t, caf::actor> live_;
};

class StatusCounters {
 public:
  void count(int status);
  // sabre:http_requests_total{status="..."} in the Prometheus text format.
  std::string prometheus() const;

 private:
  mutable std::mutex mutex_;
  std::map<int, uint64_t> counts_;
};

// Responses begun and not yet written out: shutdown waits for them, so that an answer the engine has
// already given is not lost when the I/O threads stop.
class ResponsesInFlight {
 public:
  void begin();
  void end();
  // True when none is left by `deadline`.
  bool wait_none(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mutex_;
  std::condition_variable none_;
  size_t count_ = 0;
};

struct ServerState {
  ServerState(HttpServerConfig config, caf::actor_system& system, engine_actor engine,
              const openai::ModelContext& context)
      : config(std::move(config)), router(context, this->config.api_key), context(context), system(system),
        engine(std::move(engine)) {}

  HttpServerConfig config;
  Router router;
  const openai::ModelContext& context;
  caf::actor_system& system;
  engine_actor engine;
  GenerationRegistry generations;
  ResponsesInFlight responses;
  StatusCounters statuses;
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> draining{false};
};

}  // namespace sabre::http
