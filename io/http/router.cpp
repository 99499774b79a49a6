#include "io/http/router.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "io/openai/utility_endpoints.hpp"

namespace sabre::http {

namespace {

struct Route {
  std::string_view path;
  std::string_view method;
};

constexpr std::array kRoutes{
    Route{"/health", "GET"},          Route{"/v1/models", "GET"},    Route{"/metrics", "GET"},
    Route{"/tokenize", "POST"},       Route{"/detokenize", "POST"},  Route{"/v1/completions", "POST"},
    Route{"/v1/chat/completions", "POST"},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Compares every byte whatever the first difference, so response times do not reveal how much of a
// guessed key was right (only its length).
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

template <class T>
RouteResult plan_or_error(openai::Expected<T, openai::ApiError>&& result) {
  if (!result) return error_response(result.error());
  return std::move(*result);
}

}  // namespace

std::string_view target_path(std::string_view target) {
  const size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

Router::Router(const openai::ModelContext& context, std::string api_key)
    : context_(context), api_key_(std::move(api_key)) {}

bool Router::needs_auth(std::string_view path) { return path.starts_with("/v1/"); }

bool Router::authorized(std::string_view authorization) const {
  if (api_key_.empty()) return true;
  std::string_view token = authorization;
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.size() > 7 && equal_ignoring_case(token.substr(0, 7), "bearer ")) {
    token.remove_prefix(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  }
  return constant_time_equal(token, api_key_);
}

RouteResult Router::route(const RequestView& request) const {
  const std::string_view path = target_path(request.target);
  // HEAD is GET without the body (RFC 9110 9.3.2); the session leaves the body out.
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : request.method;
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& candidate : kRoutes) {
    if (candidate.path != path) continue;
    path_known = true;
    if (candidate.method == method) route = &candidate;
  }
  if (!path_known) {
    return error_response(openai::ApiError::not_found(fmt::format("no route for {} {}", request.method, path)));
  }
  if (route == nullptr) {
    std::string allowed;
    for (const Route& candidate : kRoutes) {
      if (candidate.path == path) allowed = candidate.method == "GET" ? "GET, HEAD" : candidate.method;
    }
    HttpResponse response = error_response(openai::ApiError::method_not_allowed(
        fmt::format("method {} is not allowed on {}; use {}", request.method, path, allowed)));
    response.headers.emplace_back("Allow", allowed);
    return response;
  }
  if (needs_auth(path) && !authorized(request.authorization)) {
    return error_response(openai::ApiError::unauthorized(
        request.authorization.empty() ? "missing API key: send 'Authorization: Bearer KEY'" : "invalid API key"));
  }
  if (path == "/health") return json_response(R"({"status":"ok"})");
  if (path == "/metrics") return MetricsQuery{};
  if (path == "/v1/models") return json_response(openai::models_response(context_));
  if (path == "/tokenize") {
    auto body = openai::tokenize_response(request.body, context_);
    return body ? json_response(std::move(*body)) : error_response(body.error());
  }
  if (path == "/detokenize") {
    auto body = openai::detokenize_response(request.body, context_);
    return body ? json_response(std::move(*body)) : error_response(body.error());
  }
  if (path == "/v1/completions") return plan_or_error(openai::parse_completion_request(request.body, context_));
  return plan_or_error(openai::parse_chat_request(request.body, context_));
}

}  // namespace sabre::http
