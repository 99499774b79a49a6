#include "io/http/server_state.hpp"

#include <caf/send.hpp>
#include <fmt/format.h>

namespace sabre::http {

void GenerationRegistry::reserve(uint64_t id) {
  std::lock_guard lock(mutex_);
  live_.emplace(id, caf::actor{});
}

void GenerationRegistry::attach(uint64_t id, caf::actor sink) {
  std::lock_guard lock(mutex_);
  const auto it = live_.find(id);
  if (it != live_.end()) it->second = std::move(sink);
}

void GenerationRegistry::remove(uint64_t id) {
  std::lock_guard lock(mutex_);
  live_.erase(id);
  if (live_.empty()) emptied_.notify_all();
}

size_t GenerationRegistry::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

bool GenerationRegistry::wait_empty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return emptied_.wait_for(lock, timeout, [this] { return live_.empty(); });
}

void StatusCounters::count(int status) {
  std::lock_guard lock(mutex_);
  ++counts_[status];
}

std::string StatusCounters::prometheus() const {
  std::lock_guard lock(mutex_);
  std::string out =
      "# HELP sabre:http_requests_total HTTP requests answered, by status.\n"
      "# TYPE sabre:http_requests_total counter\n";
  for (const auto& [status, count] : counts_) {
    out += fmt::format("sabre:http_requests_total{{status=\"{}\"}} {}\n", status, count);
  }
  return out;
}

void ResponsesInFlight::begin() {
  std::lock_guard lock(mutex_);
  ++count_;
}

void ResponsesInFlight::end() {
  std::lock_guard lock(mutex_);
  if (count_ > 0 && --count_ == 0) none_.notify_all();
}

bool ResponsesInFlight::wait_none(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return none_.wait_until(lock, deadline, [this] { return count_ == 0; });
}

}  // namespace sabre::http
