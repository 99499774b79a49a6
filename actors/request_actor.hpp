#pragma once
// The request actor: one per generation request. It tokenizes the prompt (when given as text), submits
// it to the scheduler, turns each sample's tokens into text deltas for the client's sink (incremental
// detokenization, stop strings), and sends one GenerationFinished per sample with usage and timings.
// It aborts its sequences when the client asks (abort message) or when the sink terminates, and quits
// once every sample has finished.

#include <caf/actor_system.hpp>

#include <memory>
#include <vector>

#include "actors/engine_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/internal_messages.hpp"
#include "actors/request_check.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

struct RequestContext {
  scheduler_actor scheduler;
  std::shared_ptr<const Tokenizer> tokenizer;  // null for a model without tokenizer.json
  std::vector<int32_t> eos_token_ids;
  RequestLimits limits;  // what requests are checked against where they enter the engine
  std::shared_ptr<EngineMetrics> metrics;  // may be null
};

// `request.request_id` must be set (the engine assigns one).
request_actor spawn_request(caf::actor_system& system, GenerationRequest request, generation_sink sink,
                            RequestContext context);

}  // namespace sabre
