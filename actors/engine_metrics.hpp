#pragma once
// What the engine measures about itself, kept for the server's GET /metrics (Prometheus text format,
// names prefixed `sabre:` and modelled on vLLM's `vllm:*` metrics). CAF-free: the actors call it.
//
// Who updates what (all methods are thread-safe; one EngineMetrics is shared by the engine's actors):
// - the scheduler actor, once per step: observe_step(batched tokens, model seconds, overhead seconds)
//   and set_scheduler_state(read_scheduler_state(scheduler, blocks)) for the gauges and the cumulative
//   preemption and prefix-cache counters; observe_queue_time() for each id in StepPlan::first_scheduled
//   (time from its add() to now);
// - each request actor, through its own RequestTimer (not shared, no lock of its own): tokens as they
//   arrive (time to first token, inter-token latency, generation tokens) and the finish (end-to-end
//   latency, prompt / generation tokens per request, finish reason, abort included).
// snapshot() copies everything under the lock; render_prometheus() formats a snapshot.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "actors/block_manager.hpp"
#include "model/finish_reason.hpp"

namespace sabre {

class Scheduler;

// A fixed-bucket histogram as Prometheus exposes it. Not thread-safe (EngineMetrics locks around it).
struct HistogramSnapshot {
  std::vector<double> upper_bounds;         // finite `le` bounds, ascending; +Inf is implied
  std::vector<uint64_t> cumulative_counts;  // observations <= each bound, then the +Inf one (= count)
  double sum = 0;
  uint64_t count = 0;
};

class Histogram {
 public:
  // Throws std::invalid_argument unless the bounds are finite and strictly ascending (at least one).
  explicit Histogram(std::vector<double> upper_bounds);
  // A value equal to a bound counts in that bound's bucket (`le` = less or equal). NaN is ignored.
  void observe(double value);
  HistogramSnapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> bucket_counts_;  // per bucket, not cumulative; the last is (last bound, +Inf)
  double sum_ = 0;
  uint64_t count_ = 0;
};

// The bucket bounds each engine histogram uses (seconds or tokens).
namespace metric_buckets {
const std::vector<double>& request_latency_seconds();  // TTFT, end-to-end, queue time
const std::vector<double>& inter_token_seconds();
const std::vector<double>& step_seconds();             // step duration and overhead
const std::vector<double>& request_tokens();           // prompt / generation tokens per request
const std::vector<double>& batch_tokens();             // tokens per step
}  // namespace metric_buckets

// The scheduler's side as the gauges and counters want it; read_scheduler_state() fills it.
struct SchedulerState {
  int64_t num_running = 0;       // sequences running (prefilling or decoding; n > 1 samples each count)
  int64_t num_waiting = 0;       // requests waiting (preempted sequences included)
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t num_preemptions = 0;   // cumulative
  PrefixCacheStats prefix_cache; // cumulative; hits are blocks really reused, never recomputed tokens
};
SchedulerState read_scheduler_state(const Scheduler& scheduler, const BlockManager& blocks);

struct EngineMetricsSnapshot {
  // Gauges.
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  double kv_usage() const;  // used / total, 0 for an empty pool
  // Counters.
  std::array<int64_t, 4> requests_finished{};  // indexed by FinishReason: stop, length, abort, error
  int64_t prompt_tokens = 0;
  int64_t generation_tokens = 0;
  int64_t num_preemptions = 0;
  int64_t prefix_cache_queried_blocks = 0;
  int64_t prefix_cache_hit_blocks = 0;
  int64_t spec_decode_steps = 0;            // speculative decodes verified (one per sequence and step)
  int64_t spec_decode_draft_tokens = 0;     // tokens proposed to them
  int64_t spec_decode_accepted_tokens = 0;  // of which the target accepted
  // Histograms.
  HistogramSnapshot time_to_first_token;
  HistogramSnapshot inter_token_latency;
  HistogramSnapshot e2e_request_latency;
  HistogramSnapshot queue_time;
  HistogramSnapshot request_prompt_tokens;
  HistogramSnapshot request_generation_tokens;
  HistogramSnapshot batch_tokens;
  HistogramSnapshot step_duration;   // model time of a step (what the rank spent in forward + sampling)
  HistogramSnapshot step_overhead;   // the rest of the step's wall time: planning, messages, bookkeeping

  int64_t requests_finished_by(FinishReason reason) const { return requests_finished.at(static_cast<size_t>(reason)); }
};

class EngineMetrics {
 public:
  EngineMetrics();

  // Scheduler actor, per step: StepPlan::num_batched_tokens, the time the rank spent in the model
  // (forward pass and sampling), and the rest of the step's wall time (from starting to plan it to having
  // applied its results, minus the model time). Negative durations (clock trouble) count as 0.
  void observe_step(int64_t batched_tokens, double model_seconds, double overhead_seconds);
  void set_scheduler_state(const SchedulerState& state);
  // Speculative decoding, per step: sequences whose proposals were verified, tokens proposed, accepted.
  void observe_speculation(int64_t sequences, int64_t proposed, int64_t accepted);
  void observe_queue_time(double seconds);

  // Request side (RequestTimer calls these; call them directly only without a RequestTimer).
  // The first token(s) of a request: TTFT, and its prompt tokens join the prompt counter.
  void observe_first_tokens(double ttft_seconds, int64_t prompt_tokens, int64_t new_tokens);
  // Later tokens: one inter-token latency per arrival (n > 1 samples arriving together count once).
  void observe_next_tokens(double since_previous_seconds, int64_t new_tokens);
  void observe_request_finished(FinishReason reason, int64_t prompt_tokens, int64_t generation_tokens,
                                double e2e_seconds);

  EngineMetricsSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  EngineMetricsSnapshot counters_;  // gauges and counters; its histogram snapshots stay empty
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  Histogram e2e_request_latency_;
  Histogram queue_time_;
  Histogram request_prompt_tokens_;
  Histogram request_generation_tokens_;
  Histogram batch_tokens_;
  Histogram step_duration_;
  Histogram step_overhead_;
};

// One request's clock, owned by its request actor: turns token arrivals and the finish into
// EngineMetrics observations. Not thread-safe (one actor uses it); the EngineMetrics must outlive it.
// The time points default to now; tests pass their own.
class RequestTimer {
 public:
  using Clock = std::chrono::steady_clock;

  RequestTimer(EngineMetrics& metrics, int64_t prompt_tokens, Clock::time_point arrival = Clock::now());

  // `count` new tokens arrived (all samples of an n > 1 request together, or one at a time).
  void on_tokens(int64_t count, Clock::time_point now = Clock::now());
  // Records the finish once; later calls do nothing (so an abort racing a normal finish counts once).
  void on_finished(FinishReason reason, Clock::time_point now = Clock::now());

  int64_t generation_tokens() const { return generated_; }
  bool finished() const { return finished_; }

 private:
  EngineMetrics& metrics_;
  int64_t prompt_tokens_;
  Clock::time_point arrival_;
  Clock::time_point last_token_{};
  int64_t generated_ = 0;
  bool finished_ = false;
};

// The Prometheus text exposition format (version 0.0.4) of a snapshot: # HELP and # TYPE per metric,
// every sample labelled model_name="..." (escaped), histograms as cumulative _bucket{le=...} lines
// ending in le="+Inf", then _sum and _count.
std::string render_prometheus(const EngineMetricsSnapshot& snapshot, std::string_view model_name);

}  // namespace sabre
