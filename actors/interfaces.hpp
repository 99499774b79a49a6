#pragma once
// The typed actor interfaces of the public engine API: the facade a client talks to and the sink it
// provides for the replies. See docs/ENGINE_API.md for the protocol.

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>

#include "actors/messages.hpp"

namespace sabre {

// What a client gives the engine to receive one request's replies: any number of TokenDelta messages
// per sample, then one GenerationFinished per sample (n of them). A rejected request gets a single
// GenerationFinished with finish_reason "error". When the sink terminates, its requests are aborted.
using generation_sink = caf::typed_actor<caf::reacts_to<TokenDelta>, caf::reacts_to<GenerationFinished>>;

// The engine facade.
//  - (generate, request, sink) -> request id: starts a request; replies go to `sink`.
//  - (abort, request id): ends the request now (its samples finish with "abort"); unknown ids are ignored.
//  - (info) -> EngineInfo.
//  - (metrics) -> the engine's metrics in the Prometheus text format (what GET /metrics serves).
using engine_actor = caf::typed_actor<
    caf::replies_to<generate_atom, GenerationRequest, generation_sink>::with<std::string>,
    caf::reacts_to<abort_atom, std::string>,
    caf::replies_to<info_atom>::with<EngineInfo>,
    caf::replies_to<metrics_atom>::with<std::string>>;

}  // namespace sabre
