// The real qwen3 and llama3_1 chat templates over many conversations must render exactly as
// transformers' apply_chat_template(..., tokenize=False) rendered them.

#include <catch2/catch.hpp>

#include "model/chat/chat_template.hpp"
#include "model/chat/value_format.hpp"
#include "fixture_io.hpp"

using namespace sabre::chat;
using namespace sabre::chat::testing;

TEST_CASE("real chat templates render like transformers' apply_chat_template", "[chat][golden]") {
  const Array cases = golden_cases("conversations.json");
  REQUIRE(cases.size() >= 40);
  int compared = 0;
  int refused = 0;
  for (const Value& c : cases) {
    const std::string name = field(c, "name");
    const std::string model = field(c, "model");
    const ChatTemplate chat = ChatTemplate::from_tokenizer_config(chat_fixtures() / model / "tokenizer_config.json");
    const std::string request_json = to_json(*c.as_object().find("request"), JsonStyle{});
    INFO("case " << name << "\nrequest: " << request_json);
    if (has(c, "expected")) {
      ++compared;
      try {
        CHECK(chat.render(ChatRequest::from_json(request_json, name)) == field(c, "expected"));
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << e.what());
      }
    } else {
      ++refused;
      INFO("transformers said: " << field(c, "reference_error"));
      try {
        const std::string out = chat.render(ChatRequest::from_json(request_json, name));
        FAIL_CHECK("rendered instead of failing: " << out);
      } catch (const std::exception& e) {
        INFO("our message: " << e.what());
        CHECK(std::string(e.what()).find(field(c, "reference_error")) != std::string::npos);
      }
    }
  }
  CHECK(compared >= 40);
  CHECK(refused >= 2);
}
