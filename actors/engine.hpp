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
#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "config/engine_options.hpp"
#include "model/checkpoint.hpp"
#include "model/served_model.hpp"

namespace sabre {

// Loads the model and spawns the engine (facade, scheduler, one rank). Throws std::runtime_error with
// the cause when the model cannot be loaded or the options are inconsistent (e.g. a KV pool too small
// for one max_model_len sequence).
engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options);

// The same from a checkpoint the caller opened and the served model it described from it (so that the
// caller, e.g. the HTTP server, shares the tokenizer instead of loading the model's files a second
// time). The weights are uploaded and the checkpoint's mapped files released.
engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint checkpoint,
                          std::shared_ptr<const ServedModel> served);

// Stops the engine and everything it spawned; running requests finish with an error.
void stop_engine(const engine_actor& engine);

}  // namespace sabre
