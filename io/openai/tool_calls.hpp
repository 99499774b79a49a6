#pragma once
// Tool calls in what a chat model wrote, as OpenAI's message.tool_calls.
//
// With tool_choice "auto" the model decides, and writes calls in its family's format, which the chat
// template shows it:
// - hermes (Qwen2.5, Qwen3 and other Hermes-style templates): <tool_call>{"name": ..., "arguments": {...}}</tool_call>
//   blocks, each on its own, possibly after some text (the message's content);
// - llama3_json (Llama 3.1/3.2): the whole answer is a JSON call {"name": ..., "parameters": {...}}, or
//   several separated by ';', optionally after <|python_tag|>.
// With tool_choice "required" or a named function, guided decoding makes the model write JSON that is
// the call itself, whatever its family: a list [{"name", "parameters"}, ...] for "required", the
// arguments object for a named function. Either way the text is parsed when the choice ends (streams
// hold back what may be a call, and send each call whole), and a call that does not parse stays text.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/guided_decoding.hpp"

namespace sabre::openai {

enum class ToolCallFormat { none, hermes, llama3_json };

// "hermes", "llama3_json" or "none"; nullopt for anything else.
std::optional<ToolCallFormat> parse_tool_call_format(std::string_view name);
// The format a chat template teaches its model: hermes when it writes <tool_call>, llama3_json when it
// writes <|python_tag|> or an ipython environment; none otherwise.
ToolCallFormat tool_call_format_of_template(std::string_view template_source);

struct ToolCall {
  std::string id;         // "call_..." (unique per call)
  std::string name;
  std::string arguments;  // a JSON object, as text
};

struct ParsedMessage {
  std::string content;  // the text outside the calls (empty when there is none)
  std::vector<ToolCall> calls;
};

// How a chat request's choices are read for tool calls.
struct ToolPlan {
  enum class Mode { none, parse, required, named };
  Mode mode = Mode::none;
  ToolCallFormat format = ToolCallFormat::none;  // Mode::parse: the model's own format
  std::string function;                          // Mode::named: the function forced
  std::optional<GuidedDecoding> constraint;      // required / named: what the output is constrained to
};

// OpenAI's message.tool_calls list (a streamed delta numbers each call with "index").
std::string tool_calls_json(const std::vector<ToolCall>& calls, bool with_index);

// Parses a finished choice's text. Returns the text as content, without calls, when it holds none or
// they do not parse.
ParsedMessage parse_tool_calls(const ToolPlan& plan, std::string_view text);

// The streamed side: text goes in as it is generated; what is certainly not part of a call comes out as
// content at once, calls come out whole when the choice finishes.
class ToolCallStream {
 public:
  explicit ToolCallStream(ToolPlan plan) : plan_(std::move(plan)) {}

  // The content that can be sent now.
  std::string push(std::string_view text);
  // At the end of the choice: the rest of the content and the calls.
  ParsedMessage finish();

 private:
  enum class State { undecided, plain, holding };
  ToolPlan plan_;
  std::string held_;  // text that may still turn out to be (part of) a call
  // plain: no call can come any more, text passes through; holding: a call began, everything waits.
  State state_ = State::undecided;
};

}  // namespace sabre::openai
