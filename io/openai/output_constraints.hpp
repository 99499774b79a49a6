#pragma once
// The fields that constrain what the model may write: OpenAI's `response_format` and vLLM's `guided_json`,
// `guided_regex`, `guided_choice`, `guided_grammar` and `structured_outputs`. Their shapes are checked as
// OpenAI and vLLM state them, and the one given becomes the request's GuidedDecoding; whether it compiles
// (a schema keyword that is not supported, a bad regex) is checked with the rest of the request
// (check_generation_request), with the same field named in the 400.

#include <optional>
#include <string>

#include "config/guided_decoding.hpp"
#include "io/openai/request_fields.hpp"

namespace sabre::openai {

struct OutputConstraint {
  GuidedDecoding guided;
  std::string field;  // where it came from, for errors: "response_format", "guided_json", ...
};

// The request's constraint, if any (a response_format of type "text" is none). Throws ApiException (400
// naming the field) for a malformed one, or for more than one.
std::optional<OutputConstraint> read_output_constraint(const RequestFields& fields);

// OpenAI's rule for function and schema names: 1 to 64 of a-z, A-Z, 0-9, '_' and '-'.
bool valid_function_name(std::string_view name);

}  // namespace sabre::openai
