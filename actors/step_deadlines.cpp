#include "actors/step_deadlines.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sabre {

namespace {

auto same(uint64_t step, int32_t rank) {
  return [step, rank](const StepDeadlines::Pending& p) { return p.step == step && p.rank == rank; };
}

}  // namespace

void StepDeadlines::start(uint64_t step, int32_t rank, Clock::time_point deadline) {
  if (std::any_of(pending_.begin(), pending_.end(), same(step, rank))) {
    throw std::logic_error("step " + std::to_string(step) + " was sent to rank " + std::to_string(rank) + " twice");
  }
  pending_.push_back({step, rank, deadline});
}

void StepDeadlines::finish(uint64_t step, int32_t rank) {
  std::erase_if(pending_, same(step, rank));
}

std::optional<StepDeadlines::Clock::time_point> StepDeadlines::earliest() const {
  if (pending_.empty()) return std::nullopt;
  return std::min_element(pending_.begin(), pending_.end(),
                          [](const Pending& a, const Pending& b) { return a.deadline < b.deadline; })
      ->deadline;
}

std::vector<StepDeadlines::Pending> StepDeadlines::overdue(Clock::time_point now) const {
  std::vector<Pending> late;
  std::copy_if(pending_.begin(), pending_.end(), std::back_inserter(late),
               [now](const Pending& p) { return p.deadline <= now; });
  std::stable_sort(late.begin(), late.end(), [](const Pending& a, const Pending& b) { return a.deadline < b.deadline; });
  return late;
}

}  // namespace sabre
