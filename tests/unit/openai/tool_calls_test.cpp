// Tool calls read out of chat answers: the Hermes and Llama 3 formats, the JSON that guided decoding forces
// for "required" and named functions, streamed and not; text that is no call stays content.

#include <catch2/catch.hpp>

#include "io/openai/chat_request.hpp"
#include "io/openai/tool_calls.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;

namespace {

ToolPlan parse_plan(ToolCallFormat format) {
  ToolPlan plan;
  plan.mode = ToolPlan::Mode::parse;
  plan.format = format;
  return plan;
}

// The text streamed in pieces of `piece` bytes: what came out as content, and the calls at the end.
ParsedMessage streamed(const ToolPlan& plan, const std::string& text, size_t piece) {
  ToolCallStream stream(plan);
  ParsedMessage out;
  for (size_t i = 0; i < text.size(); i += piece) out.content += stream.push(text.substr(i, piece));
  ParsedMessage rest = stream.finish();
  out.content += rest.content;
  out.calls = std::move(rest.calls);
  return out;
}

}  // namespace

TEST_CASE("tool calls: Hermes blocks, with content before them", "[openai][tools]") {
  const ToolPlan plan = parse_plan(ToolCallFormat::hermes);
  const std::string text =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"CET\\\"}\"}\n</tool_call>";
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, text.size()}) {
    INFO("pieces of " << piece);
    const ParsedMessage m = piece == text.size() ? parse_tool_calls(plan, text) : streamed(plan, text, piece);
    CHECK(m.content.find("Let me check.") == 0);
    REQUIRE(m.calls.size() == 2);
    CHECK(m.calls[0].name == "get_weather");
    CHECK(m.calls[0].arguments == R"({"city":"Paris"})");
    CHECK(m.calls[1].name == "get_time");
    CHECK(m.calls[1].arguments == R"({"tz":"CET"})");
    CHECK(m.calls[0].id.starts_with("call_"));
    CHECK(m.calls[0].id != m.calls[1].id);
  }
  // An unclosed last block whose JSON is whole still counts (the model stopped at its end token).
  CHECK(parse_tool_calls(plan, "<tool_call>{\"name\":\"f\",\"arguments\":{}}").calls.size() == 1);
  // An empty block at the end (found by fuzz_guided) is text.
  CHECK(parse_tool_calls(plan, "x<tool_call>").content == "x<tool_call>");
  // Broken JSON, or no block at all: the text is the content, whole.
  const std::string broken = "<tool_call>{\"name\": \"f\", \"arguments\": {</tool_call>";
  CHECK(parse_tool_calls(plan, broken).calls.empty());
  CHECK(parse_tool_calls(plan, broken).content == broken);
  CHECK(streamed(plan, broken, 2).content == broken);
  const ParsedMessage plain = streamed(plan, "Just text with a < sign and <tool", 4);
  CHECK(plain.calls.empty());
  CHECK(plain.content == "Just text with a < sign and <tool");
}

TEST_CASE("tool calls: Llama 3 JSON calls, after <|python_tag|> or not", "[openai][tools]") {
  const ToolPlan plan = parse_plan(ToolCallFormat::llama3_json);
  const std::string one = R"({"name": "search", "parameters": {"q": "sabre"}})";
  for (size_t piece : {size_t{1}, size_t{5}}) {
    const ParsedMessage m = streamed(plan, one, piece);
    REQUIRE(m.calls.size() == 1);
    CHECK(m.calls[0].name == "search");
    CHECK(m.calls[0].arguments == R"({"q":"sabre"})");
    CHECK(m.content.empty());
  }
  const ParsedMessage two = parse_tool_calls(plan, "<|python_tag|>" + one + "; {\"name\": \"f\", \"parameters\": {}}");
  REQUIRE(two.calls.size() == 2);
  CHECK(two.calls[1].name == "f");
  const ParsedMessage text = streamed(plan, "The answer is {42}.", 3);
  CHECK(text.calls.empty());
  CHECK(text.content == "The answer is {42}.");
  CHECK(streamed(plan, "{not a call}", 3).content == "{not a call}");
  // A string cut after a backslash (found by fuzz_guided: it read past the end).
  CHECK(parse_tool_calls(plan, "{\"name\": \"a\\").calls.empty());
  // JSON that names something but carries no arguments is an answer, not a call.
  CHECK(parse_tool_calls(plan, R"({"name": "Alice", "age": 30})").calls.empty());
}

TEST_CASE("tool calls: forced calls are the JSON guided decoding wrote", "[openai][tools]") {
  ToolPlan required;
  required.mode = ToolPlan::Mode::required;
  const ParsedMessage r = streamed(required, R"([{"name":"a","parameters":{"x":1}},{"name":"b","parameters":{}}])", 4);
  REQUIRE(r.calls.size() == 2);
  CHECK(r.calls[0].arguments == R"({"x":1})");
  CHECK(r.content.empty());
  ToolPlan named;
  named.mode = ToolPlan::Mode::named;
  named.function = "lookup";
  const ParsedMessage n = parse_tool_calls(named, R"({"key": "v"})");
  REQUIRE(n.calls.size() == 1);
  CHECK(n.calls[0].name == "lookup");
  CHECK(n.calls[0].arguments == R"({"key":"v"})");
  CHECK(parse_tool_calls(named, "cut {\"key\"").calls.empty());  // cut by max_tokens: stays text
}

TEST_CASE("tool calls: the format comes from the chat template", "[openai][tools]") {
  CHECK(tool_call_format_of_template("{% if tools %}<tool_call>{{ x }}</tool_call>{% endif %}") == ToolCallFormat::hermes);
  CHECK(tool_call_format_of_template("<|python_tag|>{{ call }}") == ToolCallFormat::llama3_json);
  CHECK(tool_call_format_of_template("{{ messages }}") == ToolCallFormat::none);
  CHECK(parse_tool_call_format("hermes") == ToolCallFormat::hermes);
  CHECK_FALSE(parse_tool_call_format("mistral"));
}

TEST_CASE("tool calls: required and named tool_choice become guided decoding", "[openai][tools]") {
  SABRE_REQUIRE_QWEN3();
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",)"
      R"("properties":{"city":{"type":"string"}},"required":["city"]}}},{"type":"function","function":{"name":"now"}}])";
  const auto parse = [&](const std::string& extra) {
    return parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],)" + tools + "," + extra + "}",
                              test::qwen3_context());
  };
  const auto required = parse(R"("tool_choice":"required")");
  REQUIRE(required);
  CHECK(required->tools.mode == ToolPlan::Mode::required);
  CHECK(required->request.sampling.guided.kind == GuidedKind::json_schema);
  CHECK(required->request.sampling.guided.text.find(R"("const":"get_weather")") != std::string::npos);
  const auto named = parse(R"("tool_choice":{"type":"function","function":{"name":"get_weather"}})");
  REQUIRE(named);
  CHECK(named->tools.mode == ToolPlan::Mode::named);
  CHECK(named->request.sampling.guided.text.find(R"("required":["city"])") != std::string::npos);
  const auto automatic = parse(R"("tool_choice":"auto")");
  REQUIRE(automatic);
  CHECK(automatic->tools.mode == ToolPlan::Mode::parse);
  CHECK_FALSE(automatic->request.sampling.guided.active());
  const auto both = parse(R"("tool_choice":"required","response_format":{"type":"json_object"})");
  REQUIRE_FALSE(both);
  CHECK(both.error().param == "response_format");
  const auto bad = parse_chat_request(
      R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f",)"
      R"("parameters":{"type":"object","patternProperties":{}}}}],"tool_choice":"required"})",
      test::qwen3_context());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().param == "tools");
  CHECK(bad.error().message.find("patternProperties") != std::string::npos);
}

TEST_CASE("tool calls: a later turn's calls and results render through the chat template", "[openai][tools]") {
  SABRE_REQUIRE_QWEN3();
  const auto plan = parse_chat_request(
      R"({"messages":[{"role":"user","content":"Weather in Paris?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
      R"("function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"18 C, sunny"}],)"
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]})",
      test::qwen3_context());
  REQUIRE(plan);
  // A repeated "function" key (the template keeps the last value, a number) is no crash.
  const auto repeated = parse_chat_request(
      R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"x","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"},"function":1}]}]})",
      test::qwen3_context());
  CHECK((repeated || repeated.error().status == 400));
  // The string arguments reach the template as an object: its tojson writes them as Python's json would.
  CHECK(plan->prompt_text.find(R"({"name": "get_weather", "arguments": {"city": "Paris"}})") != std::string::npos);
  CHECK(plan->prompt_text.find("<tool_response>\n18 C, sunny\n</tool_response>") != std::string::npos);
}
