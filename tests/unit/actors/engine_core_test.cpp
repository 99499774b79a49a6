// EngineCore without CAF: submissions and their owners, samplers handed to the ranks once and released
// when sequences end, a step applied only when every rank has answered and in the order steps were
// planned (rank 0's samples used), step timing from the ranks' clocks, and a failing rank failing the
// engine: every live request gets a failure, nothing more is planned, new submissions are refused, late
// replies are ignored.

#include <catch2/catch.hpp>

#include <variant>

#include "actors/engine_core.hpp"

using namespace sabre;

namespace {

EngineCoreOptions core_options(int32_t world_size, int32_t steps_in_flight = 1) {
  EngineCoreOptions options;
  options.scheduler = {.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 64,
                       .max_steps_in_flight = steps_in_flight};
  options.blocks = {.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false};
  options.world_size = world_size;
  return options;
}

SequenceSubmission submission(int64_t max_tokens, int64_t n = 1) {
  SequenceSubmission s;
  s.prompt = {1, 2, 3, 4, 5};
  s.max_tokens = max_tokens;
  s.n = n;
  s.sampling.temperature = 0;
  s.arrival = EngineClock::now();
  return s;
}

// The output a rank gives for a step: `token` for every sequence it samples.
StepOutput rank_output(const StepInput& input, int32_t token, EngineClock::time_point finished) {
  StepOutput out;
  for (const ScheduledChunk& chunk : input.plan.chunks) {
    for (SequenceId seq : chunk.sample_ids) out.samples.push_back({seq, SampledToken{token, -0.5f, {}}});
  }
  out.model_seconds = 0.001;
  out.finished_at = finished;
  return out;
}

std::vector<SequenceUpdate> updates_of(const CoreOutput& out, OwnerId owner) {
  std::vector<SequenceUpdate> updates;
  for (const OwnerMessage& m : out.messages) {
    if (m.owner == owner && std::holds_alternative<SequenceUpdate>(m.message)) {
      updates.push_back(std::get<SequenceUpdate>(m.message));
    }
  }
  return updates;
}

}  // namespace

TEST_CASE("engine core: a request's tokens reach its owner, its sampler goes to the ranks once and is released",
          "[engine_core]") {
  EngineCore core(core_options(1));
  CoreOutput out;
  const SubmitReply reply = core.submit(submission(2), 7, out);
  REQUIRE(reply.error_type.empty());
  REQUIRE(reply.sequence_ids.size() == 1);
  const SequenceId seq = reply.sequence_ids[0];

  auto step = core.plan_step(out);
  REQUIRE(step);
  CHECK(step->input->new_samplers.size() == 1);
  CHECK(step->input->new_samplers[0].key == static_cast<uint64_t>(seq));
  // The first scheduling tells the owner its queue time.
  auto updates = updates_of(out, 7);
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].queue_seconds >= 0);
  CHECK_FALSE(core.plan_step(out));  // one step in flight at most here

  out = {};
  core.on_rank_output(step->id, 0, rank_output(*step->input, 42, EngineClock::now()), out);
  updates = updates_of(out, 7);
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].tokens.at(0).token == 42);
  CHECK_FALSE(updates[0].finished);

  out = {};
  step = core.plan_step(out);
  REQUIRE(step);
  CHECK(step->input->new_samplers.empty());  // the rank holds it already
  core.on_rank_output(step->id, 0, rank_output(*step->input, 43, EngineClock::now()), out);
  updates = updates_of(out, 7);
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].finished);
  CHECK(updates[0].reason == FinishReason::length);
  CHECK(out.released_owners == std::vector<OwnerId>{7});
  CHECK(core.num_tracked_sequences() == 0);
  CHECK(core.num_samplers_at_ranks() == 0);

  // The released sampler travels with the next step.
  out = {};
  REQUIRE(core.submit(submission(1), 8, out).error_type.empty());
  step = core.plan_step(out);
  REQUIRE(step);
  CHECK(step->input->released == std::vector<SequenceId>{seq});
  const EngineInfo info = core.info();
  CHECK(info.num_steps == 3);
  CHECK(info.step_seconds >= 0);
}

TEST_CASE("engine core: a step is applied once every rank answered, steps in planning order, rank 0's samples used",
          "[engine_core]") {
  EngineCore core(core_options(2, 2));
  CoreOutput out;
  REQUIRE(core.submit(submission(8), 1, out).error_type.empty());
  const auto first = core.plan_step(out);
  const auto second = core.plan_step(out);  // planned ahead: its decode input is the first step's sample
  REQUIRE(first);
  REQUIRE(second);
  CHECK(core.num_steps_in_flight() == 2);
  const auto t0 = EngineClock::now();

  out = {};
  core.on_rank_output(first->id, 0, rank_output(*first->input, 10, t0), out);
  CHECK(out.messages.empty());  // rank 1 has not answered step 1
  // Rank 1 answers step 2 before step 1, and rank 0 answers step 2: still nothing to apply.
  core.on_rank_output(second->id, 1, rank_output(*second->input, 99, t0), out);
  core.on_rank_output(second->id, 0, rank_output(*second->input, 11, t0), out);
  CHECK(out.messages.empty());
  // Rank 1's answer to step 1 completes it: steps 1 and 2 are applied, in order, with rank 0's tokens.
  core.on_rank_output(first->id, 1, rank_output(*first->input, 98, t0), out);
  const auto updates = updates_of(out, 1);
  REQUIRE(updates.size() == 2);
  CHECK(updates[0].tokens.at(0).token == 10);
  CHECK(updates[1].tokens.at(0).token == 11);
  CHECK(core.num_steps_in_flight() == 0);
}

TEST_CASE("engine core: a failing rank fails every live request and stops the engine", "[engine_core]") {
  EngineCore core(core_options(2, 2));
  CoreOutput out;
  REQUIRE(core.submit(submission(8, 2), 1, out).error_type.empty());
  REQUIRE(core.submit(submission(8), 2, out).error_type.empty());
  const auto first = core.plan_step(out);
  const auto second = core.plan_step(out);
  REQUIRE(first);
  REQUIRE(second);

  out = {};
  core.on_rank_output(first->id, 0, rank_output(*first->input, 10, EngineClock::now()), out);
  core.on_rank_failure(first->id, 1, "device lost", out);
  CHECK(core.failed());
  CHECK_THAT(core.failure(), Catch::Contains("rank 1") && Catch::Contains("device lost"));
  // Every sequence of both requests (n = 2: three sequences) gets one failure naming the cause.
  int failures = 0;
  for (const OwnerMessage& m : out.messages) {
    REQUIRE(std::holds_alternative<SequenceFailure>(m.message));
    CHECK_THAT(std::get<SequenceFailure>(m.message).why, Catch::Contains("device lost"));
    ++failures;
  }
  CHECK(failures == 3);
  CHECK(out.released_owners.size() == 2);
  CHECK(core.num_tracked_sequences() == 0);
  CHECK(core.num_steps_in_flight() == 0);

  // Nothing more is planned; late replies and failures change nothing; submissions are refused.
  out = {};
  CHECK_FALSE(core.plan_step(out));
  core.on_rank_output(second->id, 0, rank_output(*second->input, 11, EngineClock::now()), out);
  core.on_rank_failure(second->id, 0, "again", out);
  CHECK(out.messages.empty());
  const SubmitReply refused = core.submit(submission(2), 3, out);
  CHECK(refused.error_type == "internal_error");
  CHECK_THAT(refused.error_message, Catch::Contains("stopped") && Catch::Contains("device lost"));
}

TEST_CASE("engine core: a failed collective waits for the rank whose failure it echoes", "[engine_core]") {
  for (const bool cause_arrives : {true, false}) {
    INFO((cause_arrives ? "the cause arrives" : "only echoes"));
    EngineCore core(core_options(3, 2));
    CoreOutput out;
    REQUIRE(core.submit(submission(8), 1, out).error_type.empty());
    const auto step = core.plan_step(out);
    REQUIRE(step);
    out = {};
    const std::string echo = std::string(kCollectiveFailure) + "rank 0: Gloo all-reduce failed: connection reset";
    core.on_rank_failure(step->id, 0, echo, out);
    CHECK_FALSE(core.failed());
    core.on_rank_failure(step->id, 2, echo, out);
    CHECK_FALSE(core.failed());
    CHECK(out.messages.empty());
    if (cause_arrives) {
      core.on_rank_failure(step->id, 1, "fault injected at step 1", out);
      REQUIRE(core.failed());
      CHECK_THAT(core.failure(), Catch::Contains("rank 1") && Catch::Contains("fault injected"));
    } else {
      // The last rank's answer is an echo too: the engine fails with the first.
      core.on_rank_failure(step->id, 1, echo, out);
      REQUIRE(core.failed());
      CHECK_THAT(core.failure(), Catch::Contains("rank 0 failed") && Catch::Contains("Gloo"));
    }
    REQUIRE(out.messages.size() == 1);
    CHECK(std::holds_alternative<SequenceFailure>(out.messages[0].message));
  }
}

TEST_CASE("engine core: refusals and aborts", "[engine_core]") {
  EngineCore core(core_options(1));
  CoreOutput out;
  SequenceSubmission too_long = submission(100);
  const SubmitReply refused = core.submit(too_long, 1, out);
  CHECK(refused.error_type == "invalid_request_error");
  CHECK_THAT(refused.error_message, Catch::Contains("max_model_len 64"));

  const SubmitReply reply = core.submit(submission(5), 2, out);
  const auto step = core.plan_step(out);
  REQUIRE(step);
  out = {};
  core.abort(reply.sequence_ids, out);
  CHECK(out.released_owners == std::vector<OwnerId>{2});
  // The aborted sequence's token from the step in flight is dropped.
  core.on_rank_output(step->id, 0, rank_output(*step->input, 5, EngineClock::now()), out);
  CHECK(updates_of(out, 2).empty());
  CHECK(core.info().kv_blocks_used == 0);
}
