#pragma once
// One HTTP generation request against the engine, without actors: it owns the codec's plan and its
// stream encoder or response builder, maps the engine's request ids back to prompts, and turns each
// TokenDelta / GenerationFinished into bytes for the GenerationOutput. The CAF sink actor
// (generation_sink_actor) only forwards messages here and acts on the returned Step.
//
// A stream's head is held back until the engine's first message, so that a request the engine refuses
// at once (503 overloaded, 400 invalid) gets a plain HTTP error instead of a 200 stream with an error
// event in it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "io/http/generation_output.hpp"
#include "io/openai/chat_response.hpp"
#include "io/openai/completion_response.hpp"

namespace sabre::http {

class GenerationExchange {
 public:
  enum class Step {
    running,   // more messages to come
    finished,  // every sample finished and the answer is complete
    failed,    // the answer is complete with an error: abort the requests still running
  };

  // Request ids are set on the plan's requests here ("<plan id>-<prompt index>"), unique per server
  // because plan ids are.
  GenerationExchange(openai::CompletionPlan plan, std::shared_ptr<const Tokenizer> tokenizer,
                     std::shared_ptr<GenerationOutput> output);
  GenerationExchange(openai::ChatPlan plan, std::shared_ptr<const Tokenizer> tokenizer,
                     std::shared_ptr<GenerationOutput> output);

  // The engine requests to start, in prompt order.
  const std::vector<GenerationRequest>& requests() const { return requests_; }
  // The engine may rename a request (a duplicate id gets a suffix): map the name it replied with.
  void rename(size_t prompt_index, const std::string& engine_id);

  Step on_delta(const TokenDelta& delta);
  Step on_finished(const GenerationFinished& finished);

  // Requests with samples still running (ids to abort).
  std::vector<std::string> unfinished_request_ids() const;
  bool done() const { return done_; }
  bool streaming() const { return stream_; }
  const GenerationSummary& summary() const { return summary_; }

 private:
  std::optional<size_t> prompt_index(const std::string& request_id) const;
  void emit(std::string events);
  Step after_finish(bool failed, bool complete);
  void count(size_t prompt_index, const GenerationFinished& finished);

  struct Completion {
    openai::CompletionPlan plan;
    std::optional<openai::CompletionStreamEncoder> stream;
    std::optional<openai::CompletionResponseBuilder> builder;
  };
  struct Chat {
    openai::ChatPlan plan;
    std::optional<openai::ChatStreamEncoder> stream;
    std::optional<openai::ChatResponseBuilder> builder;
  };

  std::variant<Completion, Chat> protocol_;
  std::shared_ptr<GenerationOutput> output_;
  std::vector<GenerationRequest> requests_;
  std::map<std::string, size_t> prompt_of_id_;
  std::vector<int64_t> samples_left_;  // per prompt
  std::vector<int64_t> prompt_tokens_;  // per prompt, as the engine counted
  bool stream_ = false;
  bool started_ = false;  // the stream's head went out
  bool done_ = false;
  GenerationSummary summary_;
};

}  // namespace sabre::http
