// ChatTemplate as a user of the library meets it: where the template comes from, which variables it
// sees, and what the errors say.

#include <catch2/catch.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>
#include <unistd.h>

#include "model/chat/chat_template.hpp"
#include "model/chat/error.hpp"
#include "fixture_io.hpp"

using namespace sabre::chat;

namespace {

ChatRequest request(const std::string& json) { return ChatRequest::from_json(json, "test request"); }

const char* kOneUser = R"({"messages": [{"role": "user", "content": "Hi"}]})";

}  // namespace

TEST_CASE("a tokenizer_config.json without a chat template is refused clearly", "[chat]") {
  CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config_json(R"({"bos_token": "<s>"})", "gguf:model.gguf"),
                    Catch::Contains("gguf:model.gguf") && Catch::Contains("has no chat template"));
  CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config_json(R"({"chat_template": null})", "cfg"),
                    Catch::Contains("has no chat template"));
}

TEST_CASE("llama2's tokenizer_config.json, which has no chat template, is refused naming it", "[chat]") {
  const auto llama2 = std::filesystem::path(SABRE_SHARED_DIR) / "models/tokenizers/llama2/tokenizer_config.json";
  if (!std::filesystem::exists(llama2)) {
    WARN("SKIPPED: " << llama2 << " is missing");
    return;
  }
  CHECK_THROWS_WITH(ChatTemplate::from_tokenizer_config(llama2),
                    Catch::Contains("llama2") && Catch::Contains("has no chat template"));
}

TEST_CASE("a list of named templates picks default, tool_use with tools, or the one selected", "[chat]") {
  const ChatTemplate chat = ChatTemplate::from_tokenizer_config_json(
      R"({"chat_template": [{"name": "default", "template": "D{{ messages|length }}"},
                            {"name": "tool_use", "template": "T{{ tools|length }}"},
                            {"name": "rag", "template": "R{{ documents|length }}"}]})",
      "named");
  CHECK(chat.template_names() == std::vector<std::string>{"default", "rag", "tool_use"});
  CHECK(chat.render(request(kOneUser)) == "D1");
  const std::string with_tools = R"({"messages": [{"role": "user", "content": "Hi"}], "tools": [{"a": 1}, {"b": 2}]})";
  CHECK(chat.render(request(with_tools)) == "T2");
  CHECK(chat.select("default").render(request(with_tools)) == "D1");
  CHECK(chat.select("rag").render(request(R"({"messages": [{"role": "user"}], "documents": [1, 2, 3]})")) == "R3");
  CHECK_THROWS_WITH(chat.select("nope"), Catch::Contains("default, rag, tool_use"));
  const ChatTemplate no_default = ChatTemplate::from_tokenizer_config_json(
      R"({"chat_template": [{"name": "a", "template": "A"}]})", "cfg");
  CHECK_THROWS_WITH(no_default.render(request(kOneUser)), Catch::Contains("none is named 'default'"));
}

TEST_CASE("special tokens reach the template as strings, AddedToken objects included", "[chat]") {
  const ChatTemplate chat = ChatTemplate::from_tokenizer_config_json(
      R"({"chat_template": "{{ bos_token }}|{{ eos_token }}|{{ unk_token is defined }}|{{ pad_token }}",
          "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
          "eos_token": "</s>", "unk_token": null, "pad_token": "<pad>"})",
      "cfg");
  CHECK(chat.special_tokens().bos_token == std::optional<std::string>("<s>"));
  CHECK(chat.render(request(kOneUser)) == "<s>|</s>|False|<pad>");
  // Extra variables override special tokens, as transformers' kwargs do.
  CHECK(chat.render(request(R"({"messages": [{"role": "user"}], "eos_token": "[END]"})")) == "<s>|[END]|False|<pad>");
}

TEST_CASE("messages are prepared as transformers prepares them", "[chat]") {
  const ChatTemplate chat = ChatTemplate::from_string(
      "{% for m in messages %}{{ m|list }}{{ m.content is defined }}{{ tools is none }}{{ add_generation_prompt }};{% endfor %}",
      {});
  // None-valued keys are dropped; reasoning is copied to thinking (first) and reasoning_content (last).
  CHECK(chat.render(request(R"({"messages": [{"role": "assistant", "content": null, "reasoning": "r"}],
                                "add_generation_prompt": true})")) ==
        "['thinking', 'role', 'reasoning', 'reasoning_content']FalseTrueTrue;");
  CHECK_THROWS_WITH(chat.render(request(R"({"messages": []})")), Catch::Contains("empty conversation"));
  CHECK_THROWS_WITH(chat.render(request(R"({"messages": ["hi"]})")), Catch::Contains("message 0 must be an object"));
}

TEST_CASE("chat requests are validated", "[chat]") {
  CHECK_THROWS_WITH(request("[1]"), Catch::Contains("must be a JSON object"));
  CHECK_THROWS_WITH(request(R"({"add_generation_prompt": true})"), Catch::Contains("missing 'messages'"));
  CHECK_THROWS_WITH(request(R"({"messages": [], "add_generation_prompt": "yes"})"),
                    Catch::Contains("'add_generation_prompt' must be true or false"));
  CHECK_THROWS_WITH(request(R"({"messages": [], "tools": {}})"), Catch::Contains("'tools' must be a list"));
  const ChatRequest r = request(R"({"messages": [], "enable_thinking": false, "date_string": "1 Jan"})");
  CHECK(r.extra.size() == 2);
  CHECK(r.extra.find("enable_thinking")->is_bool());
}

TEST_CASE("template errors say which template, line and column", "[chat]") {
  try {
    ChatTemplate::from_tokenizer_config_json(R"({"chat_template": "line one\n{% if x %}\n{{ 1 + }}\n{% endif %}"})",
                                             "my/tokenizer_config.json");
    FAIL("a syntax error was accepted");
  } catch (const TemplateError& e) {
    CHECK_THAT(e.what(), Catch::Contains("my/tokenizer_config.json") && Catch::Contains("line 3, column 8"));
  }
  const ChatTemplate chat = ChatTemplate::from_string(
      "{% for m in messages %}\n{% if m.role == 'system' %}\n  {{ raise_exception('System role not supported') }}\n{% endif %}\n{% endfor %}",
      {}, "strict template");
  try {
    chat.render(request(R"({"messages": [{"role": "system", "content": "s"}]})"));
    FAIL("raise_exception did not raise");
  } catch (const TemplateError& e) {
    CHECK_THAT(e.what(), Catch::Contains("strict template line 3") && Catch::Contains("System role not supported"));
  }
  CHECK(chat.render(request(kOneUser)).empty());
}

TEST_CASE("chat_template.jinja beside tokenizer_config.json is used when the config has none", "[chat]") {
  const auto dir = std::filesystem::temp_directory_path() / ("sabre_chat_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << R"({"eos_token": "<e>"})";
  std::ofstream(dir / "chat_template.jinja") << "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}\n";
  const ChatTemplate chat = ChatTemplate::from_tokenizer_config(dir / "tokenizer_config.json");
  CHECK(chat.render(request(kOneUser)) == "Hi<e>");
  std::filesystem::remove_all(dir);
}

TEST_CASE("chat_template.jinja takes priority over the config's own template, as in transformers", "[chat]") {
  const char* config = R"({"eos_token": "<e>", "chat_template": "config:{{ messages[0].content }}"})";
  const std::string separate = "jinja:{{ messages[0].content }}{{ eos_token }}";
  CHECK(ChatTemplate::from_tokenizer_config_json(config, "cfg").render(request(kOneUser)) == "config:Hi");
  CHECK(ChatTemplate::from_tokenizer_config_json(config, "cfg", separate).render(request(kOneUser)) == "jinja:Hi<e>");
  CHECK(ChatTemplate::from_tokenizer_config_json(R"({"eos_token": "<e>"})", "cfg", separate).render(request(kOneUser)) ==
        "jinja:Hi<e>");
}

TEST_CASE("strftime_now formats the current local time", "[chat]") {
  const ChatTemplate chat = ChatTemplate::from_string("{{ strftime_now('%Y') }}|{{ strftime_now('%d %b %Y')|length }}", {});
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  CHECK(chat.render(request(kOneUser)) == std::to_string(local.tm_year + 1900) + "|11");
}

TEST_CASE("the three real templates load from the committed fixtures", "[chat]") {
  for (const char* model : {"qwen3", "llama3_1", "smollm2"}) {
    INFO(model);
    const ChatTemplate chat =
        ChatTemplate::from_tokenizer_config(testing::chat_fixtures() / model / "tokenizer_config.json");
    CHECK(chat.template_names().empty());
    CHECK(chat.source().find("messages") != std::string::npos);
    CHECK(chat.special_tokens().eos_token.has_value());
  }
}

TEST_CASE("one ChatTemplate renders on several threads at once", "[chat]") {
  const ChatTemplate chat =
      ChatTemplate::from_tokenizer_config(testing::chat_fixtures() / "qwen3" / "tokenizer_config.json");
  const ChatRequest r = request(R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "<think>\nx\n</think>\n\nok", "tool_calls": [{"function": {"name": "f", "arguments": {"a": [1, 2.5]}}}]},
      {"role": "tool", "content": "r"}], "tools": [{"type": "function", "function": {"name": "f"}}],
      "add_generation_prompt": true, "enable_thinking": false})");
  const std::string expected = chat.render(r);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string out = chat.render(r);
        if (out != expected) {
          results[t] = out;
          return;
        }
      }
      results[t] = expected;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& result : results) CHECK(result == expected);
}
