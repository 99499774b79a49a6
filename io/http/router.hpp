#pragma once
// The HTTP API's routing, authentication and request decoding, without sockets or actors: a request
// (method, target, Authorization header, body) becomes either a finished response (errors, /health,
// /v1/models, /tokenize, /detokenize) or a job for the engine (a completion or chat plan, a metrics
// query). The listener (http_session) carries out the jobs.

#include <string>
#include <string_view>
#include <variant>

#include "io/http/http_response.hpp"
#include "io/openai/chat_request.hpp"
#include "io/openai/completion_request.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::http {

struct RequestView {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // "/v1/completions?x=y"
  std::string_view authorization;  // the Authorization header, "" when absent
  std::string_view body;
};

struct MetricsQuery {};

using RouteResult = std::variant<HttpResponse, openai::CompletionPlan, openai::ChatPlan, MetricsQuery>;

class Router {
 public:
  // `api_key` "": no authentication. The context must outlive the router.
  Router(const openai::ModelContext& context, std::string api_key);

  RouteResult route(const RequestView& request) const;

  // True when the path (without query) needs the API key: /v1/*.
  static bool needs_auth(std::string_view path);
  // Accepts "TOKEN" and "Bearer TOKEN" (scheme case-insensitive), compared in constant time.
  bool authorized(std::string_view authorization) const;

 private:
  const openai::ModelContext& context_;
  std::string api_key_;
};

// The path of a request target, without its query string.
std::string_view target_path(std::string_view target);

}  // namespace sabre::http
