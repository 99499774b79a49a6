#include "io/http/http_listener.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <exception>
#include <stdexcept>

#include "io/http/http_server.hpp"

namespace sabre::http {

namespace {

struct ListenerState {
  std::shared_ptr<const openai::ModelContext> context;
  // Declared after the context: destroyed first (its destructor stops the threads that read it).
  std::unique_ptr<HttpServer> server;
  static inline const char* name = "sabre.http_listener";
};

using ListenerSelf = http_listener_actor::stateful_pointer<ListenerState>;

http_listener_actor::behavior_type listener_behavior(ListenerSelf self, HttpListenerSetup setup) {
  self->state.context = std::move(setup.context);
  self->state.server =
      std::make_unique<HttpServer>(std::move(setup.config), self->system(), std::move(setup.engine), *self->state.context);
  return {
      [self](listen_atom) -> caf::result<uint16_t> {
        try {
          self->state.server->start();
          return self->state.server->local_endpoint().port();
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, e.what());
        }
      },
      [self](shutdown_atom, int64_t grace_ms) -> uint64_t {
        const uint64_t in_flight = self->state.server->generations_in_flight();
        self->state.server->shutdown(std::chrono::milliseconds(std::max<int64_t>(0, grace_ms)));
        self->quit();
        return in_flight;
      },
  };
}

}  // namespace

http_listener_actor spawn_http_listener(caf::actor_system& system, HttpListenerSetup setup) {
  if (!setup.context) throw std::invalid_argument("spawn_http_listener: no model context");
  if (!setup.engine) throw std::invalid_argument("spawn_http_listener: no engine");
  return system.spawn<caf::detached>(listener_behavior, std::move(setup));
}

}  // namespace sabre::http
