// Guided decoding inside the sampler: random logits sampled at temperature 1 under a constraint always
// give an output the constraint's independent matcher (std::regex) accepts, and the sparse form of the
// mask (the CUDA backend's adjustments) rules out exactly the tokens the dense form does.
#include <catch2/catch.hpp>

#include <random>
#include <regex>

#include "grammar_support.hpp"
#include "kernels/cpu/sampler.hpp"
#include "model/structured/grammar_constraint.hpp"
#include "model/structured/regex_grammar.hpp"

namespace sabre::structured {
namespace {

// Single characters and a few longer pieces, so that tokens cross the pattern's parts; id 0 ends.
std::shared_ptr<const TokenVocabulary> vocabulary() {
  std::vector<std::optional<std::string>> tokens{std::nullopt};
  for (char c : std::string("abcxyz0123456789-:. ")) tokens.emplace_back(std::string(1, c));
  for (const char* piece : {"ab", "12", "-0", ":3", "abc", "x-", "9.", "zz", " a"}) tokens.emplace_back(piece);
  return std::make_shared<const TokenVocabulary>(std::move(tokens), 40);
}

TEST_CASE("sampled outputs under a regex constraint always match it", "[structured][sampler]") {
  const auto vocab = vocabulary();
  const std::vector<std::string> patterns{"[a-c]{2,5}-\\d{1,3}", "(ab|x)+:\\d\\.\\d", "z?[0-9]{4}( [a-c]+)?"};
  std::mt19937 rng(11);
  std::normal_distribution<float> logit(0.0f, 3.0f);
  for (const auto& pattern : patterns) {
    const auto compiled = std::make_shared<const CompiledGrammar>(test::lowered(regex_expr(pattern)), vocab,
                                                                  std::vector<int32_t>{0});
    const std::regex reference(pattern);
    int finished = 0;
    for (uint64_t seed = 0; seed < 50; ++seed) {
      SamplingParams params;
      params.temperature = 1.0;
      params.seed = seed;
      const std::vector<int32_t> eos{0};
      Sampler sampler(params, {}, eos, 0, compiled.get());
      std::string text;
      for (int step = 0; step < 40; ++step) {
        std::vector<float> logits(static_cast<size_t>(vocab->size()));
        for (float& l : logits) l = logit(rng);
        const int32_t token = sampler.sample(logits).token;
        if (token == 0) {
          INFO("pattern " << pattern << " output \"" << text << "\"");
          CHECK(std::regex_match(text, reference));
          ++finished;
          break;
        }
        REQUIRE(vocab->bytes(token) != nullptr);
        text += *vocab->bytes(token);
      }
    }
    CHECK(finished >= 40);
  }
}

TEST_CASE("the sparse mask rules out exactly what the dense mask does", "[structured][sampler]") {
  const auto vocab = vocabulary();
  const auto compiled = std::make_shared<const CompiledGrammar>(test::lowered(regex_expr("a[b-z]+\\d")), vocab,
                                                                std::vector<int32_t>{0});
  SamplingParams params;
  params.logit_bias[3] = 1.0f;
  const std::vector<int32_t> eos{0};
  SamplerHistory history(params, {}, eos, 0, compiled.get());
  history.commit(1);  // "a"
  for (const std::vector<int32_t>& provisional : {std::vector<int32_t>{}, std::vector<int32_t>{2}}) {
    std::vector<uint32_t> dense;
    history.allowed_tokens(provisional, vocab->size(), dense);
    std::vector<LogitAdjustment> sparse;
    history.adjustments(provisional, vocab->size(), sparse, /*constraint_masks=*/true);
    for (int32_t t = 0; t < vocab->size(); ++t) {
      const bool allowed = (dense[static_cast<size_t>(t) / 32] >> (t % 32)) & 1;
      const auto it = std::find_if(sparse.begin(), sparse.end(), [&](const LogitAdjustment& a) { return a.token == t; });
      const bool masked = it != sparse.end() && it->masked;
      INFO("token " << t);
      CHECK(masked == !allowed);
    }
  }
}

}  // namespace
}  // namespace sabre::structured
