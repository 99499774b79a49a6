// Hostile bodies: lone surrogates, deep nesting, and thousands of random mutations of valid requests.
// Each parser must answer with a plan or an ApiError, never let an exception out, and never accept text
// that is not valid UTF-8.

#include <catch2/catch.hpp>

#include <random>

#include "io/openai/chat_request.hpp"
#include "io/openai/completion_request.hpp"
#include "io/openai/utility_endpoints.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::qwen3_context;

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    if (len == 3) {
      const uint32_t cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("hostile: lone surrogate escapes are refused or never reach the text as broken UTF-8", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  for (const char* body : {R"({"prompt":"a\ud800b","echo":true})", R"({"prompt":"a\udc00","echo":true})",
                           R"({"prompt":"\ud83d\ude00","echo":true})"}) {
    INFO(body);
    auto plan = parse_completion_request(body, qwen3_context());
    if (plan) {
      CHECK(valid_utf8(plan->prompts[0].text));
    } else {
      CHECK(plan.error().status == 400);
    }
  }
  auto emoji = parse_completion_request(R"({"prompt":"\ud83d\ude00"})", qwen3_context());
  REQUIRE(emoji);
  CHECK(emoji->prompts[0].text == "\xF0\x9F\x98\x80");
}

TEST_CASE("hostile: deep nesting in pass-through fields", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  for (const std::string& body :
       {R"({"messages":[{"role":"user","content":"x","extra":)" + deep + "}]}",
        R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"k":)" + deep + "}}"}) {
    auto plan = parse_chat_request(body, qwen3_context());
    if (!plan) CHECK(plan.error().status == 400);
  }
}

TEST_CASE("hostile: random mutations of valid bodies never escape as exceptions", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const std::vector<std::string> seeds = {
      R"({"prompt":["Hello","world"],"max_tokens":4,"n":2,"stop":["a"],"logit_bias":{"5":1},"stream":"true"})",
      R"({"prompt":[[1,2,3],[4,5]],"logprobs":2,"echo":false,"stream_options":{"include_usage":true},"stream":true})",
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":null,
          "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
          {"role":"tool","content":"ok","tool_call_id":"c"}],"tools":[{"type":"function","function":{"name":"f"}}],
          "chat_template_kwargs":{"enable_thinking":false},"logprobs":true,"top_logprobs":2,"max_completion_tokens":5})",
      R"({"prompt":"x","messages":[{"role":"system","content":"s"}],"tokens":[1,2,3],"add_special_tokens":true})"};
  const std::string alphabet = "{}[]\":,0123456789-.eE truefalsnul\\\xff\xc3";
  std::mt19937 rng(1234);
  int accepted = 0, refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: body.erase(at, 1 + rng() % 8); break;
        case 2: body.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        default: body.resize(at); break;
      }
    }
    INFO(body);
    auto check = [&](const auto& result) {
      if (result) {
        ++accepted;
      } else {
        ++refused;
        CHECK(result.error().status == 400);
        CHECK(valid_utf8(result.error().message));
      }
    };
    REQUIRE_NOTHROW(check(parse_completion_request(body, qwen3_context())));
    REQUIRE_NOTHROW(check(parse_chat_request(body, qwen3_context())));
    REQUIRE_NOTHROW(check(tokenize_response(body, qwen3_context())));
    REQUIRE_NOTHROW(check(detokenize_response(body, qwen3_context())));
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
}
