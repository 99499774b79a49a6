#pragma once
// How a chat request's tools and tool_choice shape its answer (tool_calls.hpp's ToolPlan): none, calls
// parsed out of the model's own format ("auto"), or calls forced by guided decoding ("required", a named
// function). The fields' shapes are checked where the conversation is read (chat_request.cpp).

#include "io/openai/request_fields.hpp"
#include "io/openai/tool_calls.hpp"

namespace sabre::openai {

// `format`: the served model's tool-call format (--tool-call-parser, or its chat template's).
ToolPlan read_tool_plan(const RequestFields& fields, ToolCallFormat format);

}  // namespace sabre::openai
