// StepDeadlines: the scheduler's record of the steps in flight, which one timer checks.

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

#include "actors/step_deadlines.hpp"

using namespace sabre;
using std::chrono::seconds;

TEST_CASE("step deadlines: the earliest deadline, what is overdue, and answers clearing them", "[engine_core]") {
  StepDeadlines deadlines;
  const auto t0 = StepDeadlines::Clock::time_point{} + seconds(1000);
  CHECK_FALSE(deadlines.earliest().has_value());
  CHECK(deadlines.overdue(t0).empty());

  deadlines.start(1, 0, t0 + seconds(10));
  deadlines.start(1, 1, t0 + seconds(10));
  deadlines.start(2, 0, t0 + seconds(12));
  REQUIRE(deadlines.earliest() == t0 + seconds(10));
  CHECK(deadlines.overdue(t0 + seconds(9)).empty());

  // Rank 0 answers step 1; rank 1 does not: only it is late at the deadline.
  deadlines.finish(1, 0);
  auto late = deadlines.overdue(t0 + seconds(10));
  REQUIRE(late.size() == 1);
  CHECK(late[0].step == 1);
  CHECK(late[0].rank == 1);
  // Overdue steps stay recorded until the actor finishes them.
  CHECK(deadlines.size() == 2);
  late = deadlines.overdue(t0 + seconds(20));
  REQUIRE(late.size() == 2);
  CHECK(late[0].step == 1);  // soonest deadline first
  CHECK(late[1].step == 2);

  deadlines.finish(1, 1);
  deadlines.finish(1, 1);  // a second answer (an error after a timeout) is ignored
  CHECK(deadlines.earliest() == t0 + seconds(12));
  deadlines.finish(2, 0);
  CHECK(deadlines.size() == 0);
  CHECK_FALSE(deadlines.earliest().has_value());
}

TEST_CASE("step deadlines: a step sent twice to one rank is a logic error", "[engine_core]") {
  StepDeadlines deadlines;
  const auto t = StepDeadlines::Clock::now();
  deadlines.start(7, 0, t);
  deadlines.start(7, 1, t);
  CHECK_THROWS_AS(deadlines.start(7, 0, t), std::logic_error);
}
