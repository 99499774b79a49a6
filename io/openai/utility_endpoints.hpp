#pragma once
// The endpoints that need no engine: POST /tokenize, POST /detokenize (vLLM's shapes) and
// GET /v1/models. Each returns the response body, or an ApiError (400 naming the field).
//
//   /tokenize   {"prompt": "text", "add_special_tokens": true}
//            or {"messages": [...], "add_generation_prompt": true, "add_special_tokens": false, "tools": ...,
//                "chat_template_kwargs": {...}, "return_token_strs": false}
//            -> {"count": N, "max_model_len": L, "tokens": [...], "token_strs": null | [...]}
//   /detokenize {"tokens": [...]} -> {"prompt": "text"}
//   /v1/models  -> {"object": "list", "data": [{"id", "object": "model", "created", "owned_by": "sabre",
//                                              "root", "parent": null, "max_model_len"}]}

#include <string>
#include <string_view>

#include "io/openai/api_error.hpp"
#include "io/openai/expected.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::openai {

Expected<std::string, ApiError> tokenize_response(std::string_view body, const ModelContext& context);
Expected<std::string, ApiError> detokenize_response(std::string_view body, const ModelContext& context);
std::string models_response(const ModelContext& context);

}  // namespace sabre::openai
