#pragma once
// The deadlines of the steps the ranks are running, kept by the scheduler actor so that one timer bounds
// them all. CAF 0.17 keeps a request's timeout in its clock until the timeout fires, even after the reply
// came, so a timeout on every step request would hold one entry per step for the whole timeout (600 s by
// default): at thousands of steps a second, hundreds of megabytes. Instead the actor sends without a
// timeout, records each (step, rank) here, and keeps at most one timer message pending, for the earliest
// deadline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace sabre {

class StepDeadlines {
 public:
  using Clock = std::chrono::steady_clock;

  struct Pending {
    uint64_t step = 0;
    int32_t rank = 0;
    Clock::time_point deadline;
  };

  // Rank `rank` was sent step `step`, which must be answered by `deadline`. A (step, rank) pair is
  // started at most once.
  void start(uint64_t step, int32_t rank, Clock::time_point deadline);
  // The rank answered (a result or an error); an unknown pair is ignored (it may have been overdue).
  void finish(uint64_t step, int32_t rank);
  // The soonest deadline of the steps still running, if any.
  std::optional<Clock::time_point> earliest() const;
  // The steps past their deadline at `now`, soonest first; they stay recorded until finished.
  std::vector<Pending> overdue(Clock::time_point now) const;
  size_t size() const { return pending_.size(); }

 private:
  // Steps in flight are few (two per rank with async scheduling), so a flat list is the fastest map.
  std::vector<Pending> pending_;
};

}  // namespace sabre
