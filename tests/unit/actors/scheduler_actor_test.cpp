// The scheduler actor with fake ranks: a rank that fails a step, and a rank that never answers (the step
// timeout bounds the wait), both stop the engine cleanly: every submitted request gets a failure naming
// the cause, and the scheduler quits with it.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <string>

#include "actors/scheduler_actor.hpp"

using namespace sabre;

namespace {

rank_actor::behavior_type failing_rank(rank_actor::pointer) {
  return {[](execute_atom, const StepInput&) -> caf::result<StepOutput> {
    return caf::make_error(caf::sec::runtime_error, "simulated device fault");
  }};
}

rank_actor::behavior_type silent_rank(rank_actor::pointer self) {
  return {[self](execute_atom, const StepInput&) -> caf::result<StepOutput> {
    return self->make_response_promise<StepOutput>();  // never delivered
  }};
}

EngineCoreOptions options(double step_timeout_seconds) {
  EngineCoreOptions o;
  o.scheduler = {.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 64};
  o.scheduler.step_timeout_seconds = step_timeout_seconds;
  o.blocks = {.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false};
  return o;
}

// Submits `requests` requests and collects the failures they get; returns the causes. (A rank that fails at
// once may stop the engine before a second submission arrives, so that case submits one.)
std::vector<std::string> failures_after_submitting(caf::actor_system& system, const scheduler_actor& scheduler,
                                                   size_t requests) {
  caf::scoped_actor self{system};
  self->monitor(scheduler);
  const auto me = caf::actor_cast<request_actor>(self);
  for (size_t i = 0; i < requests; ++i) {
    SequenceSubmission s;
    s.prompt = {1, 2, 3};
    s.max_tokens = 4;
    s.arrival = EngineClock::now();
    self->request(scheduler, std::chrono::seconds(10), submit_atom::value, s, me)
        .receive([](const SubmitReply& reply) { REQUIRE(reply.error_type.empty()); },
                 [](const caf::error&) { FAIL("submit failed"); });
  }
  std::vector<std::string> causes;
  bool scheduler_gone = false;
  self->receive_while([&] { return causes.size() < requests || !scheduler_gone; })(
      [&](failed_atom, SequenceId, const std::string& why) { causes.push_back(why); },
      [&](const SequenceUpdate&) {}, [&](caf::down_msg&) { scheduler_gone = true; },
      caf::after(std::chrono::seconds(20)) >> [&] { FAIL("no failure within 20 s"); });
  return causes;
}

}  // namespace

TEST_CASE("scheduler actor: a failing rank fails every request and stops the engine", "[engine_core]") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  const auto rank = system.spawn(failing_rank);
  const auto scheduler = spawn_scheduler(system, options(600), {rank});
  const auto causes = failures_after_submitting(system, scheduler, 1);
  REQUIRE(causes.size() == 1);
  CHECK_THAT(causes[0], Catch::Contains("the engine stopped") && Catch::Contains("simulated device fault"));
}

TEST_CASE("scheduler actor: a rank that never answers is timed out, and the engine stops", "[engine_core]") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  const auto rank = system.spawn(silent_rank);
  const auto start = std::chrono::steady_clock::now();
  const auto scheduler = spawn_scheduler(system, options(0.3), {rank});
  const auto causes = failures_after_submitting(system, scheduler, 2);
  REQUIRE(causes.size() == 2);
  for (const std::string& why : causes) {
    CHECK_THAT(why, Catch::Contains("the engine stopped") &&
                        Catch::Contains("rank 0 did not answer step 1 within the step timeout of 0.3 s"));
  }
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  caf::anon_send_exit(rank, caf::exit_reason::user_shutdown);
}
