#include "io/http/generation_sink_actor.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace sabre::http {

namespace {

struct SinkState {
  std::shared_ptr<GenerationExchange> exchange;
  engine_actor engine;
  bool draining = false;
};

void abort_unfinished(caf::stateful_actor<SinkState>* self) {
  for (const std::string& id : self->state.exchange->unfinished_request_ids()) {
    self->send(self->state.engine, abort_atom::value, id);
  }
}

void act_on(caf::stateful_actor<SinkState>* self, GenerationExchange::Step step) {
  if (step == GenerationExchange::Step::running) return;
  // A failed answer is complete: the samples still running have no one to go to.
  if (step == GenerationExchange::Step::failed) abort_unfinished(self);
  self->quit();
}

caf::behavior http_generation_sink(caf::stateful_actor<SinkState>* self, engine_actor engine,
                              std::shared_ptr<GenerationExchange> exchange, std::function<void()> on_exit) {
  self->state.exchange = exchange;
  self->state.engine = engine;
  // Captured by value: the state may already be destroyed when attached functors run.
  self->attach_functor([on_exit = std::move(on_exit)] {
    if (on_exit) on_exit();
  });
  const auto sink = caf::actor_cast<sabre::generation_sink>(self);
  const auto& requests = exchange->requests();
  for (size_t i = 0; i < requests.size(); ++i) {
    self->request(engine, caf::infinite, generate_atom::value, requests[i], sink)
        .then([self, i](const std::string& id) { self->state.exchange->rename(i, id); },
              [self, i](const caf::error& error) {
                // The engine is gone: finish the prompt's samples with an internal error.
                spdlog::error("engine refused request {}: {}", self->state.exchange->requests()[i].request_id,
                              self->system().render(error));
                GenerationFinished finished;
                finished.request_id = self->state.exchange->requests()[i].request_id;
                finished.finish_reason = FinishReason::error;
                finished.error_type = "internal_error";
                finished.error_message = self->system().render(error);
                act_on(self, self->state.exchange->on_finished(finished));
              });
  }
  return {
      [self](const TokenDelta& delta) { act_on(self, self->state.exchange->on_delta(delta)); },
      [self](const GenerationFinished& finished) { act_on(self, self->state.exchange->on_finished(finished)); },
      [self](client_gone_atom) {
        abort_unfinished(self);
        self->quit();
      },
      [self](drain_atom) {
        if (self->state.draining) return;
        self->state.draining = true;
        abort_unfinished(self);
      },
  };
}

}  // namespace

caf::actor spawn_generation_sink(caf::actor_system& system, engine_actor engine,
                                 std::shared_ptr<GenerationExchange> exchange, std::function<void()> on_exit) {
  return system.spawn(http_generation_sink, std::move(engine), std::move(exchange), std::move(on_exit));
}

}  // namespace sabre::http
