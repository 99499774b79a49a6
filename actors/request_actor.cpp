#include "actors/request_actor.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>

#include "actors/sample_stream.hpp"

namespace sabre {
namespace {

// How many prompt ids the detokenizer sees as context for the first generated token.
constexpr size_t kPromptContextTokens = 8;

struct Sample {
  SequenceId seq = 0;
  std::optional<SampleStream> stream;
  bool finished = false;
  int64_t cached_prompt_tokens = 0;
  int64_t speculative_proposed = 0;
  int64_t speculative_accepted = 0;
  double queue_seconds = 0;
  std::optional<EngineClock::time_point> first_token;
  bool prompt_logprobs_sent = false;
};

struct RequestState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  RequestState() = default;
  static inline const char* name = "sabre.request";
  GenerationRequest request;
  generation_sink sink;
  RequestContext context;
  std::vector<int32_t> prompt;
  // The prompt's scored tokens so far (GenerationRequest::prompt_logprobs): [i] is prompt token i + 1's.
  std::vector<SampledToken> prompt_logprobs;
  std::vector<Sample> samples;
  EngineClock::time_point arrival;
  bool submitted = false;
  std::optional<RequestTimer> timer;  // metrics: TTFT, inter-token latency, end-to-end
  FinishReason last_reason = FinishReason::length;
};

using RequestSelf = request_actor::stateful_pointer<RequestState>;

double seconds_between(EngineClock::time_point a, EngineClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool all_finished(const RequestState& st) {
  return std::all_of(st.samples.begin(), st.samples.end(), [](const Sample& s) { return s.finished; });
}

// Whether every prompt token the request wants scored has come.
bool prompt_scored(const RequestState& st) {
  return st.request.prompt_logprobs >= 0 && st.prompt_logprobs.size() + 1 == st.prompt.size();
}

// Sends the sample's chunk, and with its first delta the prompt's scores (alone if the chunk is empty).
void send_delta(RequestSelf self, size_t index, SampleChunk& chunk) {
  auto& st = self->state;
  Sample& sample = st.samples[index];
  const bool with_prompt = !sample.prompt_logprobs_sent && prompt_scored(st);
  if (chunk.empty() && !with_prompt) return;
  TokenDelta delta;
  delta.request_id = st.request.request_id;
  delta.index = static_cast<int32_t>(index);
  delta.token_ids = std::move(chunk.token_ids);
  delta.text = std::move(chunk.text);
  delta.logprobs = std::move(chunk.logprobs);
  if (with_prompt) {
    delta.prompt_logprobs = st.prompt_logprobs;
    sample.prompt_logprobs_sent = true;
  }
  self->send(st.sink, std::move(delta));
}

// The engine scores a prompt's positions in order; a gap would be a bug, and the sample ends with an error.
struct PromptScoresOutOfOrder : std::logic_error {
  using std::logic_error::logic_error;
};

// Keeps the prompt scores the update brings that the request does not have yet (a prompt computed
// again after a preemption scores its first positions twice).
void keep_prompt_scores(RequestState& st, SequenceUpdate& update) {
  for (size_t i = 0; i < update.prompt_logprobs.size(); ++i) {
    const auto position = static_cast<size_t>(update.first_scored) + i;
    if (position == st.prompt_logprobs.size() + 1) {
      st.prompt_logprobs.push_back(std::move(update.prompt_logprobs[i]));
    } else if (position > st.prompt_logprobs.size() + 1) {
      throw PromptScoresOutOfOrder(fmt::format("prompt token {} scored before token {}", position,
                                               st.prompt_logprobs.size() + 1));
    }
  }
}

// Ends the request actor. Its monitors go first: the scheduler outlives every request (and a client of the
// engine API may keep one sink for many), and a monitor left on them keeps the finished actor's memory
// allocated for as long as they live.
void end_request(RequestSelf self) {
  self->demonitor(self->state.context.scheduler.address());
  self->demonitor(self->state.sink.address());
  self->quit();
}

void send_finished(RequestSelf self, size_t index, FinishReason reason, const std::string& stop_reason) {
  auto& st = self->state;
  Sample& sample = st.samples[index];
  if (sample.finished) return;
  // A sample that ends without a delta (a stop string at once) still reports the prompt's scores.
  if (!sample.prompt_logprobs_sent && prompt_scored(st)) {
    SampleChunk nothing;
    send_delta(self, index, nothing);
  }
  sample.finished = true;
  st.last_reason = reason;
  if (all_finished(st) && st.timer) st.timer->on_finished(st.last_reason);
  const auto now = EngineClock::now();
  GenerationFinished done;
  done.request_id = st.request.request_id;
  done.index = static_cast<int32_t>(index);
  done.finish_reason = reason;
  done.stop_reason = stop_reason;
  done.usage.prompt_tokens = static_cast<int64_t>(st.prompt.size());
  done.usage.completion_tokens = sample.stream ? sample.stream->num_tokens() : 0;
  done.usage.cached_prompt_tokens = sample.cached_prompt_tokens;
  done.usage.speculative_proposed = sample.speculative_proposed;
  done.usage.speculative_accepted = sample.speculative_accepted;
  done.timings.queue_seconds = sample.queue_seconds;
  done.timings.time_to_first_token = sample.first_token ? seconds_between(st.arrival, *sample.first_token) : 0;
  done.timings.end_to_end_seconds = seconds_between(st.arrival, now);
  self->send(st.sink, std::move(done));
  // Before the scheduler has answered, the sequence ids are unknown: stay until the reply comes so
  // they can still be aborted.
  if (all_finished(st) && st.submitted) end_request(self);
}

// Sends sample `index`'s GenerationFinished with finish reason error; its state is the caller's to set.
void send_error(RequestSelf self, size_t index, const std::string& type, const std::string& message,
                const std::string& param = {}) {
  GenerationFinished done;
  done.error_param = param;
  done.request_id = self->state.request.request_id;
  done.index = static_cast<int32_t>(index);
  done.finish_reason = FinishReason::error;
  done.error_type = type;
  done.error_message = message;
  // What the sample had produced before it failed still counts (the access log, the client's usage).
  const auto& st = self->state;
  done.usage.prompt_tokens = static_cast<int64_t>(st.prompt.size());
  if (index < st.samples.size() && st.samples[index].stream) {
    done.usage.completion_tokens = st.samples[index].stream->num_tokens();
  }
  self->send(self->state.sink, std::move(done));
}

// A request that never reached the scheduler (or was refused by it): one error reply, then quit.
void reject(RequestSelf self, const std::string& type, const std::string& message, const std::string& param = {}) {
  send_error(self, 0, type, message, param);
  for (Sample& s : self->state.samples) s.finished = true;
  end_request(self);
}

// The engine went away under the request: every sample still running ends with an error.
void fail_all(RequestSelf self, const std::string& message) {
  auto& st = self->state;
  for (size_t i = 0; i < st.samples.size(); ++i) {
    if (st.samples[i].finished) continue;
    st.samples[i].finished = true;
    send_error(self, i, "internal_error", message);
  }
  end_request(self);
}

// The engine could not run one of the samples: it ends with an error, the others go on.
void fail_sample(RequestSelf self, SequenceId seq, const std::string& why) {
  auto& st = self->state;
  for (size_t i = 0; i < st.samples.size(); ++i) {
    Sample& s = st.samples[i];
    if (s.seq != seq || s.finished) continue;
    s.finished = true;
    send_error(self, i, "internal_error", why);
  }
  if (all_finished(st) && st.submitted) end_request(self);
}

void abort_all(RequestSelf self) {
  auto& st = self->state;
  std::vector<SequenceId> live;
  for (const Sample& s : st.samples) {
    if (!s.finished && s.seq != 0) live.push_back(s.seq);
  }
  if (!live.empty()) self->send(st.context.scheduler, abort_atom::value, live);
  for (size_t i = 0; i < st.samples.size(); ++i) send_finished(self, i, FinishReason::abort, "");
}

void apply_update(RequestSelf self, SequenceUpdate& update) {
  auto& st = self->state;
  // The request's prompt was scheduled for the first time: its samples share the queue time.
  if (update.queue_seconds >= 0) {
    for (Sample& s : st.samples) {
      s.queue_seconds = update.queue_seconds;
      s.cached_prompt_tokens = update.cached_prompt_tokens;
    }
  }
  keep_prompt_scores(st, update);
  auto it = std::find_if(st.samples.begin(), st.samples.end(), [&](const Sample& s) { return s.seq == update.seq; });
  if (it == st.samples.end() || it->finished) return;  // a step that ran while the sample ended
  const auto index = static_cast<size_t>(it - st.samples.begin());
  Sample& sample = *it;
  sample.speculative_proposed += update.proposed;
  sample.speculative_accepted += update.accepted;
  if (!update.tokens.empty() && !sample.first_token) sample.first_token = EngineClock::now();
  SampleChunk chunk = sample.stream->push(update.tokens);
  if (st.timer && !chunk.token_ids.empty()) st.timer->on_tokens(static_cast<int64_t>(chunk.token_ids.size()));
  const bool stopped = chunk.stopped;
  const std::string stop_reason = chunk.stop_reason;
  send_delta(self, index, chunk);
  if (stopped) {
    if (!update.finished) self->send(st.context.scheduler, abort_atom::value, std::vector<SequenceId>{sample.seq});
    send_finished(self, index, FinishReason::stop, stop_reason);
    return;
  }
  if (!update.finished) return;
  SampleChunk tail = sample.stream->finish();
  const bool tail_stopped = tail.stopped;
  const std::string tail_reason = tail.stop_reason;
  send_delta(self, index, tail);
  if (tail_stopped) {
    send_finished(self, index, FinishReason::stop, tail_reason);
  } else {
    send_finished(self, index, update.reason, "");
  }
}

// A step's tokens for one sample. If they cannot become text (the tokenizer throws), only that sample
// fails: its sequence is aborted so its KV blocks come back, its client gets an error, the others go on.
// Left to CAF, the exception would end the whole request actor and leave every sample's client waiting.
void on_update(RequestSelf self, SequenceUpdate& update) {
  try {
    apply_update(self, update);
  } catch (const PromptScoresOutOfOrder& e) {
    auto& st = self->state;
    spdlog::error("request {}: sequence {}: {}", st.request.request_id, update.seq, e.what());
    if (!update.finished) self->send(st.context.scheduler, abort_atom::value, std::vector<SequenceId>{update.seq});
    fail_sample(self, update.seq, "internal error while scoring the prompt");
  } catch (const std::exception& e) {
    auto& st = self->state;
    spdlog::error("request {}: sequence {}: its output could not be detokenized: {}", st.request.request_id,
                  update.seq, e.what());
    if (!update.finished) self->send(st.context.scheduler, abort_atom::value, std::vector<SequenceId>{update.seq});
    fail_sample(self, update.seq, "internal error while detokenizing the output");
  }
}

// Tokenizes the request (when it came as text) and checks it against the engine's limits: the engine's
// edge for clients of the engine API (check_generation_request). Returns what is wrong, if anything.
std::optional<RequestProblem> prepare(RequestState& st) {
  const GenerationRequest& r = st.request;
  if (!r.prompt_token_ids.empty()) {
    st.prompt = r.prompt_token_ids;
  } else {
    if (!st.context.tokenizer) return RequestProblem{"prompt", "this model has no tokenizer: send prompt token ids"};
    if (r.prompt.empty()) return RequestProblem{"prompt", "the prompt is empty"};
    st.prompt = st.context.tokenizer->encode(r.prompt, /*add_special_tokens=*/true);
  }
  return check_generation_request(r, st.prompt, st.context.limits);
}

request_actor::behavior_type request_behavior(RequestSelf self, GenerationRequest request, generation_sink sink,
                                              RequestContext context) {
  auto& st = self->state;
  st.request = std::move(request);
  st.sink = std::move(sink);
  st.context = std::move(context);
  st.arrival = EngineClock::now();
  st.samples.resize(static_cast<size_t>(std::max<int64_t>(st.request.n, 1)));

  // The client going away ends the request (its KV blocks are freed at once).
  self->monitor(st.sink);
  self->monitor(st.context.scheduler);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.sink.address()) {
      abort_all(self);
    } else if (msg.source == self->state.context.scheduler.address()) {
      if (!self->state.submitted) {
        // Gone before it took the request (a failure the engine has not reacted to yet): nothing ran,
        // so a retry is the answer (HTTP 503), as while the engine restarts.
        reject(self, "overloaded", "the engine is restarting its ranks after a failure; retry shortly");
        return;
      }
      fail_all(self, "the engine stopped");
    }
  });

  if (auto problem = prepare(st)) {
    reject(self, "invalid_request_error", problem->message, problem->param);
    return {[](const SequenceUpdate&) {}, [](abort_atom) {}, [](failed_atom, SequenceId, const std::string&) {}};
  }
  if (st.context.metrics) st.timer.emplace(*st.context.metrics, static_cast<int64_t>(st.prompt.size()), st.arrival);
  SampleStreamOptions stream_options{st.request.skip_special_tokens, st.request.stop,
                                     st.request.include_stop_str_in_output, st.request.logprobs};
  const size_t context_tokens = std::min(st.prompt.size(), kPromptContextTokens);
  const std::span<const int32_t> prompt_tail(st.prompt.data() + st.prompt.size() - context_tokens, context_tokens);
  for (Sample& s : st.samples) s.stream.emplace(st.context.tokenizer.get(), prompt_tail, stream_options);

  SequenceSubmission submission;
  submission.prompt = st.prompt;
  submission.max_tokens = st.request.max_tokens;
  submission.n = st.request.n;
  submission.sampling = st.request.sampling;
  if (!st.request.has_seed) submission.sampling.seed = std::random_device{}();
  if (!st.request.ignore_eos) submission.eos_token_ids = st.context.eos_token_ids;
  submission.arrival = st.arrival;
  submission.prompt_logprobs = st.request.prompt_logprobs;
  self->request(st.context.scheduler, caf::infinite, submit_atom::value, std::move(submission),
                caf::actor_cast<request_actor>(self))
      .then(
          [self](SubmitReply& reply) {
            auto& st = self->state;
            if (!reply.error_type.empty()) {
              reject(self, reply.error_type, reply.error_message);
              return;
            }
            for (size_t i = 0; i < reply.sequence_ids.size() && i < st.samples.size(); ++i) {
              st.samples[i].seq = reply.sequence_ids[i];
            }
            st.submitted = true;
            // An abort that arrived while the submission was on its way.
            if (all_finished(st)) {
              self->send(st.context.scheduler, abort_atom::value, reply.sequence_ids);
              end_request(self);
            }
          },
          [self](caf::error& error) {
            // The scheduler is gone: the engine is loading its ranks again after a failure (or stopping).
            // Like a full queue, that is worth a retry (HTTP 503), not a server error.
            if (error == caf::sec::request_receiver_down) {
              reject(self, "overloaded", "the engine is restarting its ranks after a failure; retry shortly");
              return;
            }
            reject(self, "internal_error", self->system().render(error));
          });

  return {
      [self](SequenceUpdate& update) { on_update(self, update); },
      [self](abort_atom) { abort_all(self); },
      [self](failed_atom, SequenceId seq, const std::string& why) { fail_sample(self, seq, why); },
  };
}

}  // namespace

request_actor spawn_request(caf::actor_system& system, GenerationRequest request, generation_sink sink,
                            RequestContext context) {
  return system.spawn(request_behavior, std::move(request), std::move(sink), std::move(context));
}

}  // namespace sabre
