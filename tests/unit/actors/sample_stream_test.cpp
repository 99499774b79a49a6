// SampleStream against the real Qwen3 tokenizer: the text a client sees equals the reference decode of
// the ids, cut before the first stop string, whatever way the tokens arrive.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "actors/sample_stream.hpp"

namespace sabre {
namespace {

std::filesystem::path qwen3_tokenizer() {
  return std::filesystem::path(SABRE_SHARED_DIR) / "models/tokenizers/qwen3/tokenizer.json";
}

std::vector<SampledToken> sampled(const std::vector<int32_t>& ids) {
  std::vector<SampledToken> out;
  for (size_t i = 0; i < ids.size(); ++i) out.push_back({ids[i], -0.5f * static_cast<float>(i), {}});
  return out;
}

struct Collected {
  std::string text;
  std::vector<int32_t> ids;
  bool stopped = false;
  std::string stop_reason;
};

// Pushes the tokens in runs of `step`, then finishes, the way the request actor does.
Collected stream_all(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, SampleStreamOptions options,
                     size_t step) {
  SampleStream stream(&tokenizer, {}, std::move(options));
  Collected c;
  const auto tokens = sampled(ids);
  for (size_t i = 0; i < tokens.size() && !c.stopped; i += step) {
    const size_t n = std::min(step, tokens.size() - i);
    SampleChunk chunk = stream.push(std::span(tokens).subspan(i, n));
    c.text += chunk.text;
    c.ids.insert(c.ids.end(), chunk.token_ids.begin(), chunk.token_ids.end());
    c.stopped = chunk.stopped;
    c.stop_reason = chunk.stop_reason;
  }
  if (!c.stopped) {
    SampleChunk tail = stream.finish();
    c.text += tail.text;
    c.stopped = tail.stopped;
    c.stop_reason = tail.stop_reason;
  }
  return c;
}

}  // namespace

TEST_CASE("SampleStream: the streamed text is the decode of the ids, in any grouping", "[sample_stream]") {
  if (!std::filesystem::exists(qwen3_tokenizer())) {
    WARN("SKIPPED: no qwen3 tokenizer under SABRE_SHARED_DIR");
    return;
  }
  const Tokenizer tokenizer = Tokenizer::from_file(qwen3_tokenizer());
  const std::string text = "Héllo wörld — 東京 is big. 🚀 Done<|im_end|>";
  const std::vector<int32_t> ids = tokenizer.encode(text, false);
  for (size_t step : {1u, 2u, 3u, 7u}) {
    const Collected c = stream_all(tokenizer, ids, {}, step);
    CHECK(c.text == tokenizer.decode(ids, true));
    CHECK(c.ids == ids);
    CHECK_FALSE(c.stopped);
  }
  SampleStreamOptions keep_special;
  keep_special.skip_special_tokens = false;
  CHECK(stream_all(tokenizer, ids, keep_special, 1).text == text);
}

TEST_CASE("SampleStream: stop strings cut the text and end the sample", "[sample_stream]") {
  if (!std::filesystem::exists(qwen3_tokenizer())) {
    WARN("SKIPPED: no qwen3 tokenizer under SABRE_SHARED_DIR");
    return;
  }
  const Tokenizer tokenizer = Tokenizer::from_file(qwen3_tokenizer());
  const std::string text = "The answer is 42. The end of the answer.";
  const std::vector<int32_t> ids = tokenizer.encode(text, false);
  SampleStreamOptions options;
  options.stop = {"end of", "42."};
  for (size_t step : {1u, 2u, 5u}) {
    const Collected c = stream_all(tokenizer, ids, options, step);
    CHECK(c.text == "The answer is ");
    CHECK(c.stopped);
    CHECK(c.stop_reason == "42.");
    // Tokens after the one completing the stop string are not reported.
    CHECK(c.ids.size() < ids.size());
  }
  options.include_stop_str_in_output = true;
  CHECK(stream_all(tokenizer, ids, options, 1).text == "The answer is 42.");

  SampleStreamOptions no_match;
  no_match.stop = {"answer!"};
  const Collected whole = stream_all(tokenizer, ids, no_match, 1);
  CHECK(whole.text == text);
  CHECK_FALSE(whole.stopped);
}

TEST_CASE("SampleStream: logprobs travel with their tokens, and no tokenizer means ids only", "[sample_stream]") {
  SampleStreamOptions options;
  options.logprobs = true;
  SampleStream stream(nullptr, {}, options);
  const auto tokens = sampled({5, 6, 7});
  SampleChunk chunk = stream.push(tokens);
  CHECK(chunk.token_ids == std::vector<int32_t>{5, 6, 7});
  REQUIRE(chunk.logprobs.size() == 3);
  CHECK(chunk.logprobs[2].logprob == Approx(-1.0f));
  CHECK(chunk.text.empty());
  CHECK(stream.num_tokens() == 3);
  CHECK(stream.finish().empty());

  SampleStream quiet(nullptr, {}, {});
  CHECK(quiet.push(tokens).logprobs.empty());
}

}  // namespace sabre
