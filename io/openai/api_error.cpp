#include "io/openai/api_error.hpp"

#include "actors/generation.hpp"
#include "config/text/json_writer.hpp"

namespace sabre::openai {

namespace {

ApiError make(int status, std::string type, std::string message, std::string code = "") {
  ApiError error;
  error.status = status;
  error.type = std::move(type);
  error.message = std::move(message);
  error.code = std::move(code);
  return error;
}

void append_string_or_null(std::string& out, const std::string& text) {
  if (text.empty()) {
    out += "null";
  } else {
    append_json_string(out, text);
  }
}

}  // namespace

ApiError ApiError::invalid_request(std::string param, std::string message) {
  ApiError error = make(400, "invalid_request_error", std::move(message));
  error.param = std::move(param);
  return error;
}

ApiError ApiError::unauthorized(std::string message) {
  return make(401, "authentication_error", std::move(message), "invalid_api_key");
}

ApiError ApiError::not_found(std::string message) { return make(404, "not_found_error", std::move(message)); }

ApiError ApiError::method_not_allowed(std::string message) {
  return make(405, "invalid_request_error", std::move(message), "method_not_allowed");
}

ApiError ApiError::payload_too_large(std::string message) {
  return make(413, "invalid_request_error", std::move(message), "request_too_large");
}

ApiError ApiError::overloaded(std::string message) {
  return make(503, "overloaded_error", std::move(message), "server_overloaded");
}

ApiError ApiError::internal() { return make(500, "internal_error", "internal server error"); }

std::string error_object(const ApiError& error) {
  std::string out = "{\"message\":";
  append_json_string(out, error.message);
  out += ",\"type\":";
  append_json_string(out, error.type);
  out += ",\"param\":";
  append_string_or_null(out, error.param);
  out += ",\"code\":";
  append_string_or_null(out, error.code);
  out += '}';
  return out;
}

std::string error_body(const ApiError& error) { return "{\"error\":" + error_object(error) + "}"; }

ApiError error_from_finished(const GenerationFinished& finished) {
  if (finished.error_type == "invalid_request_error") {
    return ApiError::invalid_request(finished.error_param, finished.error_message);
  }
  if (finished.error_type == "overloaded") {
    return ApiError::overloaded(finished.error_message.empty() ? "the server is overloaded, retry later"
                                                               : finished.error_message);
  }
  return ApiError::internal();
}

void reject(std::string param, std::string message) {
  throw ApiException(ApiError::invalid_request(std::move(param), std::move(message)));
}

}  // namespace sabre::openai
