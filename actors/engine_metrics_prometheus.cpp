// render_prometheus: the text exposition format (version 0.0.4) of an EngineMetricsSnapshot.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "actors/engine_metrics.hpp"

namespace sabre {

namespace {

// Label values escape backslash, double quote and newline; nothing else needs it.
std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Shortest text that reads back as the same double; the format's spellings for the non-finite ones.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

class Writer {
 public:
  explicit Writer(std::string_view model_name) : model_label_("model_name=\"" + escape_label_value(model_name) + "\"") {}

  void header(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    header(name, "gauge", help);
    sample(name, "", number(value));
  }
  void counter(std::string_view name, std::string_view help, int64_t value) {
    header(name, "counter", help);
    sample(name, "", fmt::format("{}", value));
  }
  void histogram(std::string_view name, std::string_view help, const HistogramSnapshot& h) {
    header(name, "histogram", help);
    const std::string bucket = fmt::format("{}_bucket", name);
    for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
      sample(bucket, fmt::format("le=\"{}\"", number(h.upper_bounds[i])), fmt::format("{}", h.cumulative_counts.at(i)));
    }
    sample(bucket, "le=\"+Inf\"", fmt::format("{}", h.count));
    sample(fmt::format("{}_sum", name), "", number(h.sum));
    sample(fmt::format("{}_count", name), "", fmt::format("{}", h.count));
  }
  // One line: name{model_name="...",extra} value
  void sample(std::string_view name, std::string_view extra_labels, std::string_view value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{}{}{}}} {}\n", name, model_label_, extra_labels.empty() ? "" : ",",
                   extra_labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string model_label_;
  std::string out_;
};

}  // namespace

std::string render_prometheus(const EngineMetricsSnapshot& s, std::string_view model_name) {
  Writer w(model_name);
  w.gauge("sabre:num_requests_running", "Sequences running (prefilling or decoding; each sample of an n > 1 request counts).",
          static_cast<double>(s.num_running));
  w.gauge("sabre:num_requests_waiting", "Requests waiting to be scheduled, preempted ones included.",
          static_cast<double>(s.num_waiting));
  w.gauge("sabre:kv_cache_blocks_used", "KV cache blocks in use.", static_cast<double>(s.kv_blocks_used));
  w.gauge("sabre:kv_cache_blocks_total", "KV cache blocks in the pool.", static_cast<double>(s.kv_blocks_total));
  w.gauge("sabre:kv_cache_usage_perc", "Fraction of the KV cache blocks in use (1 means full).", s.kv_usage());

  w.header("sabre:request_success_total", "counter", "Finished requests by finish reason (stop, length, abort).");
  for (FinishReason reason : {FinishReason::stop, FinishReason::length, FinishReason::abort}) {
    w.sample("sabre:request_success_total", fmt::format("finished_reason=\"{}\"", finish_reason_name(reason)),
             fmt::format("{}", s.requests_finished_by(reason)));
  }
  w.counter("sabre:prompt_tokens_total", "Prompt tokens of requests that produced their first token.", s.prompt_tokens);
  w.counter("sabre:generation_tokens_total", "Generated tokens.", s.generation_tokens);
  w.counter("sabre:num_preemptions_total", "Sequences preempted (freed, to be recomputed) for lack of KV blocks.",
            s.num_preemptions);
  if (s.spec_decode_steps > 0) {  // from the first speculative step of an engine that speculates
    w.counter("sabre:spec_decode_num_steps_total", "Speculative decodes verified (one per sequence and step).",
              s.spec_decode_steps);
    w.counter("sabre:spec_decode_num_draft_tokens_total", "Tokens proposed for speculative decoding.",
              s.spec_decode_draft_tokens);
    w.counter("sabre:spec_decode_num_accepted_tokens_total",
              "Proposed tokens the model accepted (acceptance rate: this over the draft tokens; mean accepted "
              "length per step: this over the steps).",
              s.spec_decode_accepted_tokens);
  }
  w.counter("sabre:prefix_cache_queried_blocks_total", "Full prompt blocks looked up in the prefix cache.",
            s.prefix_cache_queried_blocks);
  w.counter("sabre:prefix_cache_hit_blocks_total",
            "Prompt blocks served from the prefix cache (KV reused; recomputation after preemption is not a hit).",
            s.prefix_cache_hit_blocks);

  w.histogram("sabre:time_to_first_token_seconds", "Time from arrival to the first generated token.",
              s.time_to_first_token);
  w.histogram("sabre:inter_token_latency_seconds", "Time between consecutive token arrivals of a request.",
              s.inter_token_latency);
  w.histogram("sabre:e2e_request_latency_seconds", "Time from arrival to finish.", s.e2e_request_latency);
  w.histogram("sabre:request_queue_time_seconds", "Time from arrival to first being scheduled.", s.queue_time);
  w.histogram("sabre:request_prompt_tokens", "Prompt tokens per finished request.", s.request_prompt_tokens);
  w.histogram("sabre:request_generation_tokens", "Generated tokens per finished request.", s.request_generation_tokens);
  w.histogram("sabre:step_batched_tokens", "Tokens computed per engine step (prefill chunks and decodes).",
              s.batch_tokens);
  w.histogram("sabre:step_duration_seconds", "Model time per engine step (forward pass and sampling).",
              s.step_duration);
  w.histogram("sabre:step_overhead_seconds", "Time per engine step not spent in the model (planning, messaging).",
              s.step_overhead);
  return w.take();
}

}  // namespace sabre
