#pragma once
// The CAF side of one HTTP generation: an actor that starts the exchange's engine requests with itself
// as their generation_sink, feeds the engine's TokenDelta / GenerationFinished messages to the
// GenerationExchange (which writes to the connection), and quits when the answer is complete.
//
// It also understands two messages from the HTTP side:
//   client_gone_atom: the client disconnected; abort the requests (their KV blocks are freed within a
//                     step) and quit without writing anything.
//   drain_atom:       the server is shutting down; abort the requests but keep listening, so that the
//                     "abort" finishes still reach the client as the stream's final chunks.

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include <functional>
#include <memory>

#include "actors/interfaces.hpp"
#include "io/http/generation_exchange.hpp"

namespace sabre::http {

using client_gone_atom = caf::atom_constant<caf::atom("clientgone")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;

// `on_exit` runs (on the actor's thread) when the actor quits, whatever the reason.
caf::actor spawn_generation_sink(caf::actor_system& system, engine_actor engine,
                                 std::shared_ptr<GenerationExchange> exchange, std::function<void()> on_exit);

}  // namespace sabre::http
