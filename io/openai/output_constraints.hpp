#pragma once
// The fields that constrain what the model may write: OpenAI's `response_format` and vLLM's `guided_*`
// (and `structured_outputs`). Their shapes are checked as OpenAI states them; a constraint the engine
// cannot enforce yet is refused by name, never dropped, since a client that asked for JSON must not get
// free text it believes was constrained.

#include "io/openai/request_fields.hpp"

namespace sabre::openai {

// Throws ApiException (400 naming the field) for a malformed `response_format`, and for any constraint
// other than {"type": "text"}.
void check_output_constraints(const RequestFields& fields);

// OpenAI's rule for function and schema names: 1 to 64 of a-z, A-Z, 0-9, '_' and '-'.
bool valid_function_name(std::string_view name);

}  // namespace sabre::openai
