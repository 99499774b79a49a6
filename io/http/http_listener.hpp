#pragma once
// The HTTP listener as a CAF actor. The daemon and any CAF application that embeds Sabre start, address
// and stop the HTTP front end by message, as they do the engine. The actor owns an HttpServer (acceptor,
// Asio threads, sessions): Asio keeps the sockets, because an actor mailbox per byte would only add
// latency, while the lifetime and the graceful stop belong to the actor. It runs detached because a
// shutdown waits for the streams in flight to send their final chunks.

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>

#include "actors/interfaces.hpp"
#include "io/http/server_state.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::http {

using listen_atom = caf::atom_constant<caf::atom("listen")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

// - (listen) -> port: binds the configured address and starts serving; replies the bound port (the
//   free one chosen for port 0), or an error naming the address and the reason (the actor stays,
//   so a caller may fix nothing and simply shut it down).
// - (shutdown, grace in ms) -> generations that were in flight: stops accepting, ends every stream in
//   flight with its final "abort" chunk and [DONE], waits up to the grace for them to go out, stops
//   the threads, replies, and quits. The engine is not stopped: it belongs to the caller.
using http_listener_actor = caf::typed_actor<caf::replies_to<listen_atom>::with<uint16_t>,
                                             caf::replies_to<shutdown_atom, int64_t>::with<uint64_t>>;

struct HttpListenerSetup {
  HttpServerConfig config;
  engine_actor engine;
  // Shared so that the listener keeps it alive for as long as its sessions read it.
  std::shared_ptr<const openai::ModelContext> context;
};

http_listener_actor spawn_http_listener(caf::actor_system& system, HttpListenerSetup setup);

}  // namespace sabre::http
