// parse_chat_request: rendering through the real Qwen3 template, content parts, roles, tools,
// chat_template_kwargs, max_completion_tokens and the 400s.

#include <catch2/catch.hpp>

#include "io/openai/chat_request.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::qwen3_context;

namespace {

ChatPlan chat_ok(const std::string& body) {
  auto plan = parse_chat_request(body, qwen3_context());
  if (!plan) FAIL("unexpected error: " << plan.error().message << " (param " << plan.error().param << ")");
  return *plan;
}

ApiError chat_error(const std::string& body, const ModelContext& context = qwen3_context()) {
  auto plan = parse_chat_request(body, context);
  if (plan) FAIL("expected a 400 for " << body);
  return plan.error();
}

void check_rejected(const std::string& body, const std::string& param) {
  INFO(body);
  const ApiError e = chat_error(body);
  CHECK(e.status == 400);
  CHECK(e.param == param);
}

}  // namespace

TEST_CASE("chat: messages render through the model's template and tokenize without added specials", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_ok(
      R"({"model":"qwen3-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})");
  CHECK(plan.prompt_text ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(plan.request.prompt_token_ids == qwen3_context().tokenizer->encode(plan.prompt_text, false));
  CHECK(plan.request.prompt_token_ids.front() == 151644);  // <|im_start|> as one special token
  CHECK(plan.id.rfind("chatcmpl-", 0) == 0);
  // No max_tokens: what the context leaves.
  CHECK(plan.request.max_tokens == 256 - plan.prompt_tokens());
  CHECK_FALSE(plan.stream);
  CHECK_FALSE(plan.logprobs);
}

TEST_CASE("chat: text content parts are joined, developer is a system message", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_ok(R"({"messages":[{"role":"developer","content":"Rules"},
      {"role":"user","content":[{"type":"text","text":"line one"},{"type":"text","text":"line two"}]}]})");
  CHECK(plan.prompt_text == "<|im_start|>system\nRules<|im_end|>\n<|im_start|>user\nline one\nline "
                            "two<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("chat: chat_template_kwargs reach the template", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_ok(
      R"({"messages":[{"role":"user","content":"Hi"}],"chat_template_kwargs":{"enable_thinking":false}})");
  CHECK(plan.prompt_text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  const ChatPlan no_prompt = chat_ok(
      R"({"messages":[{"role":"user","content":"Hi"}],"chat_template_kwargs":{"add_generation_prompt":false}})");
  CHECK(no_prompt.prompt_text == "<|im_start|>user\nHi<|im_end|>\n");
}

TEST_CASE("chat: tools and a tool conversation reach the template", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_ok(R"({
    "messages":[{"role":"user","content":"Weather in Paris?"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                  "function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},
                {"role":"tool","tool_call_id":"c1","content":"sunny"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":
              {"type":"object","properties":{"city":{"type":"string"}}}}}],
    "tool_choice":"auto"})");
  CHECK(plan.prompt_text.find("# Tools") != std::string::npos);
  CHECK(plan.prompt_text.find("\"name\": \"get_weather\"") != std::string::npos);
  CHECK(plan.prompt_text.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}") !=
        std::string::npos);
  CHECK(plan.prompt_text.find("<tool_response>\nsunny\n</tool_response>") != std::string::npos);
}

TEST_CASE("chat: sampling, logprobs and max_completion_tokens", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_ok(R"({"messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":20,
      "max_tokens":50,"temperature":0,"n":2,"logprobs":true,"top_logprobs":2,"stream":"true",
      "stream_options":{"include_usage":true},"stop":"x","seed":7})");
  CHECK(plan.request.max_tokens == 20);
  CHECK(plan.request.sampling.temperature == 0.0);
  CHECK(plan.n == 2);
  CHECK(plan.request.n == 2);
  CHECK(plan.logprobs);
  CHECK(plan.request.logprobs);
  CHECK(plan.top_logprobs == 2);
  CHECK(plan.request.sampling.top_logprobs == 2);
  CHECK(plan.stream);
  CHECK(plan.include_usage);
  CHECK(plan.request.stop == std::vector<std::string>{"x"});
  CHECK(plan.request.sampling.seed == 7);
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":9})").request.max_tokens == 9);
  // The edges of OpenAI's ranges, and the forms that constrain nothing, are accepted.
  CHECK(chat_ok(R"({"messages":[{"role":"user","content":"Hi"}],"temperature":2,"stop":["a","b","c","d"],
                    "response_format":{"type":"text"},"guided_json":null,"parallel_tool_calls":false})")
            .request.sampling.temperature == 2.0);
}

TEST_CASE("chat: bad requests are 400s naming the field", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  check_rejected(R"({})", "messages");
  check_rejected(R"({"messages":[]})", "messages");
  check_rejected(R"({"messages":"hi"})", "messages");
  check_rejected(R"({"messages":[5]})", "messages[0]");
  check_rejected(R"({"messages":[{"content":"x"}]})", "messages[0].role");
  check_rejected(R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role");
  check_rejected(R"({"messages":[{"role":"user","content":"x"},{"role":"user"}]})", "messages[1].content");
  check_rejected(R"({"messages":[{"role":"user","content":5}]})", "messages[0].content");
  check_rejected(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
                 "messages[0].content[0].type");
  check_rejected(R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})", "messages[0].content[0].text");
  check_rejected(R"({"messages":[{"role":"user","content":["x"]}]})", "messages[0].content[0]");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tools":{}})", "tools");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval"}]})", "tools[0].type");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]})",
                 "tools[0].function.name");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"required"})", "tool_choice");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"})", "tool_choice");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}}})",
                 "tool_choice");
  const std::string user = R"({"messages":[{"role":"user","content":"x"}],)";
  const std::string tool_f = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  check_rejected(user + tool_f + R"(,"tool_choice":{"type":"function","function":{"name":"g"}}})",
                 "tool_choice.function.name");
  check_rejected(user + tool_f + R"(,"tool_choice":{"type":"tool","function":{"name":"f"}}})", "tool_choice.type");
  check_rejected(user + tool_f + R"(,"tool_choice":{"type":"function"}})", "tool_choice.function");
  check_rejected(user + tool_f + R"(,"tool_choice":"maybe"})", "tool_choice");
  check_rejected(user + R"("tool_choice":"auto"})", "tool_choice");
  check_rejected(user + R"("tools":[{"type":"function","function":{"name":"get weather"}}]})", "tools[0].function.name");
  check_rejected(user + R"("tools":[{"type":"function","function":{"name":")" + std::string(65, 'a') + R"("}}]})",
                 "tools[0].function.name");
  check_rejected(user + R"("tools":[{"type":"function","function":{"name":"f","parameters":[]}}]})",
                 "tools[0].function.parameters");
  check_rejected(user + R"("tools":[{"type":"function","function":{"name":"f","description":5}}]})",
                 "tools[0].function.description");
  check_rejected(user + tool_f + R"(,"parallel_tool_calls":"no"})", "parallel_tool_calls");
  check_rejected(R"({"messages":[{"role":"user","content":"x"},{"role":"tool","content":"sunny"}]})",
                 "messages[1].tool_call_id");
  check_rejected(R"({"messages":[{"role":"user","content":"x"},{"role":"tool","content":"sunny","tool_call_id":7}]})",
                 "messages[1].tool_call_id");
  check_rejected(R"({"messages":[{"role":"user","content":"x","tool_calls":[]}]})", "messages[0].tool_calls");
  check_rejected(R"({"messages":[{"role":"user","content":"x","name":5}]})", "messages[0].name");
  const std::string assistant = R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":)";
  check_rejected(assistant + R"({}}]})", "messages[1].tool_calls");
  check_rejected(assistant + R"([{"type":"function","function":{"name":"f","arguments":"{}"}}]}]})",
                 "messages[1].tool_calls[0].id");
  check_rejected(assistant + R"([{"id":"c","type":"function","function":{"name":"f"}}]}]})",
                 "messages[1].tool_calls[0].function.arguments");
  check_rejected(assistant + R"([{"id":"c","type":"function","function":{"arguments":"{}"}}]}]})",
                 "messages[1].tool_calls[0].function.name");
  check_rejected(assistant + R"([{"id":"c","type":"code","function":{"name":"f","arguments":"{}"}}]}]})",
                 "messages[1].tool_calls[0].type");
  check_rejected(user + R"("temperature":2.5})", "temperature");
  check_rejected(user + R"("stop":["a","b","c","d","e"]})", "stop");
  check_rejected(user + R"("response_format":{"type":"xml"}})", "response_format.type");
  check_rejected(user + R"("response_format":{}})", "response_format.type");
  check_rejected(user + R"("response_format":"json"})", "response_format");
  check_rejected(user + R"("response_format":{"type":"json_schema"}})", "response_format.json_schema");
  check_rejected(user + R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}}})",
                 "response_format.json_schema.name");
  check_rejected(user + R"("response_format":{"type":"json_schema","json_schema":{"name":"a b"}}})",
                 "response_format.json_schema.name");
  check_rejected(user + R"("response_format":{"type":"json_schema","json_schema":{"name":"a","schema":"x"}}})",
                 "response_format.json_schema.schema");
  check_rejected(user + R"("response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"array","uniqueItems":true}}}})",
                 "response_format");
  check_rejected(user + R"("guided_regex":"a\\1"})", "guided_regex");
  check_rejected(user + R"("structured_outputs":{"yaml":"x"}})", "structured_outputs.yaml");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":[1]})", "chat_template_kwargs");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"messages":[]}})",
                 "chat_template_kwargs.messages");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "top_logprobs");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0})", "max_completion_tokens");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":1000})", "max_completion_tokens");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"temperature":-1})", "temperature");
  check_rejected(R"({"messages":[{"role":"user","content":"x"}],"model":"other"})", "model");
  check_rejected(R"({"messages":[{"role":"user","content":")" + std::string(2000, 'a') + R"("}]})", "messages");
}

TEST_CASE("chat: a model without a chat template gets a 400 that says so", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  ModelContext context = qwen3_context();
  context.chat_template = nullptr;
  const ApiError e = chat_error(R"({"messages":[{"role":"user","content":"Hi"}]})", context);
  CHECK(e.status == 400);
  CHECK(e.message.find("no chat template") != std::string::npos);
}

TEST_CASE("chat: a template's raise_exception becomes a 400 with its message", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  ModelContext context = qwen3_context();
  context.chat_template = std::make_shared<const chat::ChatTemplate>(chat::ChatTemplate::from_string(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}"
      "{{ messages[0].content }}",
      {}));
  const ApiError e = chat_error(R"({"messages":[{"role":"assistant","content":"Hi"}]})", context);
  CHECK(e.param == "messages");
  CHECK(e.message.find("first message must be from the user") != std::string::npos);
}
