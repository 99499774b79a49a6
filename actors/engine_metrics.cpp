#include "actors/engine_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "actors/scheduler.hpp"

namespace sabre {

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (bounds_.empty()) throw std::invalid_argument("Histogram: needs at least one bucket bound");
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::invalid_argument(fmt::format("Histogram: bucket bounds must be finite and strictly ascending; "
                                              "bound {} is {} after {}",
                                              i, bounds_[i], i > 0 ? bounds_[i - 1] : -INFINITY));
    }
  }
  bucket_counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // The first bound >= value: `le` buckets include their bound. Past the last bound: the +Inf bucket.
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++bucket_counts_[static_cast<size_t>(bucket)];
  sum_ += value;
  ++count_;
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds = bounds_;
  s.cumulative_counts.reserve(bucket_counts_.size());
  uint64_t running = 0;
  for (uint64_t c : bucket_counts_) {
    running += c;
    s.cumulative_counts.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

namespace metric_buckets {

const std::vector<double>& request_latency_seconds() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                        5,     10,   20,    40,   80,  160,  320, 640};
  return b;
}

const std::vector<double>& inter_token_seconds() {
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1,
                                        0.15,  0.2,    0.3,   0.5,  0.75, 1,    2.5,  5};
  return b;
}

const std::vector<double>& step_seconds() {
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
  return b;
}

const std::vector<double>& request_tokens() {
  static const std::vector<double> b = {1,    2,    5,    10,    20,    50,    100,   200,    500,
                                        1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
  return b;
}

const std::vector<double>& batch_tokens() {
  static const std::vector<double> b = {1,   2,    4,    8,    16,   32,    64,   128,
                                        256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
  return b;
}

}  // namespace metric_buckets

SchedulerState read_scheduler_state(const Scheduler& scheduler, const BlockManager& blocks) {
  SchedulerState s;
  s.num_running = scheduler.num_running();
  s.num_waiting = scheduler.num_waiting();
  s.kv_blocks_used = blocks.num_used_blocks();
  s.kv_blocks_total = blocks.num_total_blocks();
  s.num_preemptions = scheduler.num_preemptions();
  s.prefix_cache = blocks.prefix_cache_stats();
  return s;
}

double EngineMetricsSnapshot::kv_usage() const {
  return kv_blocks_total > 0 ? static_cast<double>(kv_blocks_used) / static_cast<double>(kv_blocks_total) : 0.0;
}

EngineMetrics::EngineMetrics()
    : time_to_first_token_(metric_buckets::request_latency_seconds()),
      inter_token_latency_(metric_buckets::inter_token_seconds()),
      e2e_request_latency_(metric_buckets::request_latency_seconds()),
      queue_time_(metric_buckets::request_latency_seconds()),
      request_prompt_tokens_(metric_buckets::request_tokens()),
      request_generation_tokens_(metric_buckets::request_tokens()),
      batch_tokens_(metric_buckets::batch_tokens()),
      step_duration_(metric_buckets::step_seconds()),
      step_overhead_(metric_buckets::step_seconds()) {}

void EngineMetrics::observe_step(int64_t batched_tokens, double model_seconds, double overhead_seconds) {
  std::lock_guard lock(mutex_);
  batch_tokens_.observe(static_cast<double>(batched_tokens));
  step_duration_.observe(std::max(0.0, model_seconds));
  step_overhead_.observe(std::max(0.0, overhead_seconds));
}

void EngineMetrics::observe_speculation(int64_t sequences, int64_t proposed, int64_t accepted) {
  std::lock_guard lock(mutex_);
  counters_.spec_decode_steps += sequences;
  counters_.spec_decode_draft_tokens += proposed;
  counters_.spec_decode_accepted_tokens += accepted;
}

void EngineMetrics::set_scheduler_state(const SchedulerState& state) {
  std::lock_guard lock(mutex_);
  counters_.num_running = state.num_running;
  counters_.num_waiting = state.num_waiting;
  counters_.kv_blocks_used = state.kv_blocks_used;
  counters_.kv_blocks_total = state.kv_blocks_total;
  // Cumulative in the scheduler already; max() keeps the exported counters monotonic whatever order
  // two updates arrive in.
  counters_.num_preemptions = std::max(counters_.num_preemptions, state.num_preemptions);
  counters_.prefix_cache_queried_blocks = std::max(counters_.prefix_cache_queried_blocks, state.prefix_cache.queried_blocks);
  counters_.prefix_cache_hit_blocks = std::max(counters_.prefix_cache_hit_blocks, state.prefix_cache.hit_blocks);
}

void EngineMetrics::observe_queue_time(double seconds) {
  std::lock_guard lock(mutex_);
  queue_time_.observe(std::max(0.0, seconds));
}

void EngineMetrics::observe_first_tokens(double ttft_seconds, int64_t prompt_tokens, int64_t new_tokens) {
  std::lock_guard lock(mutex_);
  time_to_first_token_.observe(std::max(0.0, ttft_seconds));
  counters_.prompt_tokens += prompt_tokens;
  counters_.generation_tokens += new_tokens;
}

void EngineMetrics::observe_next_tokens(double since_previous_seconds, int64_t new_tokens) {
  std::lock_guard lock(mutex_);
  inter_token_latency_.observe(std::max(0.0, since_previous_seconds));
  counters_.generation_tokens += new_tokens;
}

void EngineMetrics::observe_request_finished(FinishReason reason, int64_t prompt_tokens, int64_t generation_tokens,
                                             double e2e_seconds) {
  std::lock_guard lock(mutex_);
  ++counters_.requests_finished.at(static_cast<size_t>(reason));
  request_prompt_tokens_.observe(static_cast<double>(prompt_tokens));
  request_generation_tokens_.observe(static_cast<double>(generation_tokens));
  e2e_request_latency_.observe(std::max(0.0, e2e_seconds));
}

EngineMetricsSnapshot EngineMetrics::snapshot() const {
  std::lock_guard lock(mutex_);
  EngineMetricsSnapshot s = counters_;
  s.time_to_first_token = time_to_first_token_.snapshot();
  s.inter_token_latency = inter_token_latency_.snapshot();
  s.e2e_request_latency = e2e_request_latency_.snapshot();
  s.queue_time = queue_time_.snapshot();
  s.request_prompt_tokens = request_prompt_tokens_.snapshot();
  s.request_generation_tokens = request_generation_tokens_.snapshot();
  s.batch_tokens = batch_tokens_.snapshot();
  s.step_duration = step_duration_.snapshot();
  s.step_overhead = step_overhead_.snapshot();
  return s;
}

namespace {

double seconds_between(RequestTimer::Clock::time_point from, RequestTimer::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

RequestTimer::RequestTimer(EngineMetrics& metrics, int64_t prompt_tokens, Clock::time_point arrival)
    : metrics_(metrics), prompt_tokens_(prompt_tokens), arrival_(arrival) {}

void RequestTimer::on_tokens(int64_t count, Clock::time_point now) {
  if (count <= 0 || finished_) return;
  if (generated_ == 0) {
    metrics_.observe_first_tokens(seconds_between(arrival_, now), prompt_tokens_, count);
  } else {
    metrics_.observe_next_tokens(seconds_between(last_token_, now), count);
  }
  generated_ += count;
  last_token_ = now;
}

void RequestTimer::on_finished(FinishReason reason, Clock::time_point now) {
  if (finished_) return;
  finished_ = true;
  metrics_.observe_request_finished(reason, prompt_tokens_, generated_, seconds_between(arrival_, now));
}

}  // namespace sabre
