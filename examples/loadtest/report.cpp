#include "report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "config/text/json_writer.hpp"

namespace sabre::loadtest {

BenchmarkReport make_report(const std::vector<RequestOutcome>& outcomes, const std::vector<BenchPrompt>& prompts,
                            double duration_s) {
  if (outcomes.size() != prompts.size()) throw std::invalid_argument("make_report: one prompt per outcome");
  BenchmarkReport report;
  report.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2e;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const RequestOutcome& outcome = outcomes[i];
    if (!outcome.success) {
      ++report.failed;
      if (report.first_errors.size() < kMaxErrorsShown) {
        report.first_errors.push_back(fmt::format("request {}: {}", i, outcome.error));
      }
      continue;
    }
    ++report.completed;
    const int64_t output = outcome.output_tokens();
    report.total_output_tokens += output;
    report.expected_output_tokens += prompts[i].output_tokens;
    report.total_input_tokens += outcome.usage_prompt_tokens.value_or(prompts[i].input_tokens);
    if (outcome.usage_completion_tokens) ++report.requests_with_usage;
    ttft.push_back(outcome.ttft_s * 1e3);
    e2e.push_back(outcome.e2e_s * 1e3);
    if (output > 1) tpot.push_back((outcome.e2e_s - outcome.ttft_s) * 1e3 / static_cast<double>(output - 1));
    for (const double gap : outcome.itl_s) itl.push_back(gap * 1e3);
  }
  if (duration_s > 0) {
    report.request_throughput = static_cast<double>(report.completed) / duration_s;
    report.output_throughput = static_cast<double>(report.total_output_tokens) / duration_s;
    report.total_token_throughput =
        static_cast<double>(report.total_input_tokens + report.total_output_tokens) / duration_s;
  }
  report.ttft_ms = summarize(std::move(ttft));
  report.tpot_ms = summarize(std::move(tpot));
  report.itl_ms = summarize(std::move(itl));
  report.e2e_ms = summarize(std::move(e2e));
  return report;
}

namespace {

std::string rate_text(const std::optional<double>& rate) {
  if (!rate || std::isinf(*rate)) return "inf";
  return fmt::format("{:g}", *rate);
}

void table_row(std::string& out, std::string_view label, const std::string& value) {
  out += fmt::format("{:<40}{:>14}\n", label, value);
}

void latency_rows(std::string& out, std::string_view name, const Summary& s) {
  out += fmt::format("{:-^54}\n", fmt::format(" {} (ms, {} samples) ", name, s.count));
  if (s.count == 0) {
    table_row(out, "  (no samples)", "-");
    return;
  }
  table_row(out, "  mean", fmt::format("{:.2f}", s.mean));
  table_row(out, "  p50", fmt::format("{:.2f}", s.p50));
  table_row(out, "  p90", fmt::format("{:.2f}", s.p90));
  table_row(out, "  p99", fmt::format("{:.2f}", s.p99));
  table_row(out, "  min / max", fmt::format("{:.2f} / {:.2f}", s.min, s.max));
}

void json_summary(std::string& out, std::string_view name, const Summary& s) {
  out += fmt::format("\"{}\":", name);
  if (s.count == 0) {
    out += "null";
    return;
  }
  out += fmt::format(
      "{{\"count\":{},\"mean\":{:.4f},\"std\":{:.4f},\"min\":{:.4f},\"p50\":{:.4f},\"p90\":{:.4f},"
      "\"p99\":{:.4f},\"max\":{:.4f}}}",
      s.count, s.mean, s.stddev, s.min, s.p50, s.p90, s.p99, s.max);
}

}  // namespace

std::string format_table(const ReportHeader& header, const BenchmarkReport& r) {
  std::string out = fmt::format("{:=^54}\n", " sabre-loadtest ");
  table_row(out, "Server", header.url + header.endpoint);
  table_row(out, "Dataset", header.dataset);
  table_row(out, "Request rate (req/s)", rate_text(header.request_rate));
  table_row(out, "Max concurrency", header.max_concurrency ? std::to_string(*header.max_concurrency) : "none");
  table_row(out, "Peak requests in flight", std::to_string(r.peak_in_flight));
  table_row(out, "Connections opened", std::to_string(r.connections_opened));
  table_row(out, "Successful requests", std::to_string(r.completed));
  table_row(out, "Failed requests", std::to_string(r.failed));
  table_row(out, "Duration (s)", fmt::format("{:.2f}", r.duration_s));
  table_row(out, "Total input tokens", std::to_string(r.total_input_tokens));
  table_row(out, "Total output tokens", std::to_string(r.total_output_tokens));
  table_row(out, "Output tokens asked (max_tokens)", std::to_string(r.expected_output_tokens));
  table_row(out, "Requests counted by server usage", fmt::format("{}/{}", r.requests_with_usage, r.completed));
  table_row(out, "Request throughput (req/s)", fmt::format("{:.2f}", r.request_throughput));
  table_row(out, "Output token throughput (tok/s)", fmt::format("{:.2f}", r.output_throughput));
  table_row(out, "Total token throughput (tok/s)", fmt::format("{:.2f}", r.total_token_throughput));
  latency_rows(out, "Time to first token", r.ttft_ms);
  latency_rows(out, "Time per output token, excl. 1st", r.tpot_ms);
  latency_rows(out, "Inter-token latency", r.itl_ms);
  latency_rows(out, "End-to-end latency", r.e2e_ms);
  if (!r.first_errors.empty()) {
    out += fmt::format("{:-^54}\n", fmt::format(" First {} errors ", r.first_errors.size()));
    for (const std::string& error : r.first_errors) out += "  " + error + "\n";
  }
  out += std::string(54, '=') + "\n";
  return out;
}

std::string format_json(const ReportHeader& header, const BenchmarkReport& r) {
  std::string out = "{\"config\":{\"url\":";
  append_json_string(out, header.url);
  out += ",\"endpoint\":";
  append_json_string(out, header.endpoint);
  out += ",\"model\":";
  if (header.model) {
    append_json_string(out, *header.model);
  } else {
    out += "null";
  }
  out += ",\"dataset\":";
  append_json_string(out, header.dataset);
  out += fmt::format(",\"num_requests\":{},\"request_rate\":", header.num_requests);
  out += header.request_rate && !std::isinf(*header.request_rate) ? fmt::format("{}", *header.request_rate)
                                                                    : std::string("null");
  out += ",\"max_concurrency\":";
  out += header.max_concurrency ? std::to_string(*header.max_concurrency) : std::string("null");
  out += fmt::format(",\"seed\":{}}}", header.seed);
  out += fmt::format(
      ",\"duration_s\":{:.4f},\"completed\":{},\"failed\":{},\"total_input_tokens\":{},"
      "\"total_output_tokens\":{},\"expected_output_tokens\":{},\"requests_with_usage\":{},"
      "\"request_throughput\":{:.4f},\"output_throughput\":{:.4f},\"total_token_throughput\":{:.4f},"
      "\"peak_in_flight\":{},\"connections_opened\":{},",
      r.duration_s, r.completed, r.failed, r.total_input_tokens, r.total_output_tokens, r.expected_output_tokens,
      r.requests_with_usage, r.request_throughput, r.output_throughput, r.total_token_throughput,
      r.peak_in_flight, r.connections_opened);
  json_summary(out, "ttft_ms", r.ttft_ms);
  out += ',';
  json_summary(out, "tpot_ms", r.tpot_ms);
  out += ',';
  json_summary(out, "itl_ms", r.itl_ms);
  out += ',';
  json_summary(out, "e2e_ms", r.e2e_ms);
  out += ",\"errors\":[";
  for (size_t i = 0; i < r.first_errors.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, r.first_errors[i]);
  }
  out += "]}\n";
  return out;
}

}  // namespace sabre::loadtest
