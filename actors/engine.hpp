#pragma once
// Sabre as a library of CAF actors: load a model and spawn its engine inside any actor_system.
//
//   caf::actor_system_config cfg;
//   sabre::add_engine_message_types(cfg);
//   caf::actor_system system{cfg};
//   sabre::EngineOptions options;
//   options.model = "model.gguf";
//   sabre::engine_actor engine = sabre::spawn_engine(system, options);   // loads the model (blocking)
//   ... send (generate_atom, GenerationRequest, generation_sink) and receive TokenDelta/GenerationFinished ...
//   sabre::stop_engine(engine);   // before the actor_system is destroyed
//
// docs/ENGINE_API.md describes the messages and the guarantees.

#include <caf/actor_system.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/scheduler.hpp"
#include "model/checkpoint.hpp"

namespace sabre {

struct EngineOptions {
  std::filesystem::path model;           // HF model directory or .gguf file
  std::filesystem::path tokenizer;       // directory with tokenizer.json, when not beside the model
  std::string served_model_name;         // default: the model path's file name
  GgufWeights gguf_weights = GgufWeights::quantized;
  std::string device = "cpu";
  unsigned threads = 0;                  // 0: every hardware thread
  bool batch_invariant = false;          // see CpuBackendOptions::batch_invariant
  // max_model_len 0 (the default here): the model's max_position_embeddings. Two steps in flight:
  // the scheduler plans step N+1 while the ranks run step N (async scheduling; 1 turns it off).
  SchedulerConfig scheduler = [] {
    SchedulerConfig config;
    config.max_model_len = 0;
    config.max_steps_in_flight = 2;
    return config;
  }();
  int32_t block_size = 16;               // tokens per KV block
  int64_t num_kv_blocks = 0;             // 0: as many as kv_cache_bytes holds
  int64_t kv_cache_bytes = int64_t{1} << 30;
  bool enable_prefix_caching = true;
};

// Loads the model and spawns the engine (facade, scheduler, one rank). Throws std::runtime_error with
// the cause when the model cannot be loaded or the options are inconsistent (e.g. a KV pool too small
// for one max_model_len sequence).
engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options);

// Stops the engine and everything it spawned; running requests finish with an error.
void stop_engine(const engine_actor& engine);

}  // namespace sabre
