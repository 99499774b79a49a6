#pragma once
// The errors the HTTP API answers with, in OpenAI's shape:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": null}}
// with the HTTP status beside it. The codec reports a bad request body as an ApiError naming the field;
// the HTTP layer builds the others (401, 404, 405, 413, 503, 500) with the factories below.

#include <stdexcept>
#include <string>
#include <string_view>

namespace sabre {
struct GenerationFinished;
}

namespace sabre::openai {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field ("messages[1].content"), "" for none (written as null)
  std::string code;   // a machine-readable code ("model_not_found"), "" for none (written as null)

  static ApiError invalid_request(std::string param, std::string message);
  static ApiError unauthorized(std::string message);                 // 401
  static ApiError not_found(std::string message);                    // 404
  static ApiError method_not_allowed(std::string message);           // 405
  static ApiError payload_too_large(std::string message);            // 413
  static ApiError overloaded(std::string message);                   // 503, with Retry-After
  // 500. The message the client sees never carries internals (paths, exception texts): log those.
  static ApiError internal();
};

// {"error":{"message":...,"type":...,"param":...|null,"code":...|null}}
std::string error_body(const ApiError& error);
// The object inside, without the {"error": ...} wrapper (what a stream's error_info holds).
std::string error_object(const ApiError& error);

// The error a sample that finished with finish_reason "error" stands for: error_type
// "invalid_request_error" -> 400 with the engine's message (it names the field or limit), "overloaded"
// -> 503, anything else -> 500 without the engine's message.
ApiError error_from_finished(const GenerationFinished& finished);

// Thrown inside the codec while reading a request body; the public functions catch it and return the
// ApiError. Exposed so that the HTTP layer's own readers can use the same path.
class ApiException : public std::runtime_error {
 public:
  explicit ApiException(ApiError error) : std::runtime_error(error.message), error_(std::move(error)) {}
  const ApiError& error() const { return error_; }

 private:
  ApiError error_;
};

[[noreturn]] void reject(std::string param, std::string message);

}  // namespace sabre::openai
