#include "io/openai/prompt_logprobs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "config/text/json_writer.hpp"

namespace sabre::openai {

namespace {

void append_scored_entry(std::string& out, int32_t token, float logprob, int32_t rank, const TokenSpeller& speller) {
  fmt::format_to(std::back_inserter(out), "\"{}\":{{\"logprob\":", token);
  append_logprob(out, logprob);
  fmt::format_to(std::back_inserter(out), ",\"rank\":{},\"decoded_token\":", rank);
  append_json_string(out, speller.spell(token));
  out += '}';
}

}  // namespace

void append_prompt_logprobs(std::string& out, std::span<const int32_t> prompt, const std::vector<SampledToken>& scored,
                            size_t alternatives, const TokenSpeller& speller) {
  out += '[';
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (i) out += ',';
    if (i == 0 || i - 1 >= scored.size()) {
      out += "null";
      continue;
    }
    const SampledToken& token = scored[i - 1];
    out += '{';
    append_scored_entry(out, token.token, token.logprob, token.rank, speller);
    // The alternatives come most likely first, so the j-th has rank j + 1.
    for (size_t j = 0; j < std::min(alternatives, token.top_logprobs.size()); ++j) {
      const TokenLogprob& top = token.top_logprobs[j];
      if (top.token == token.token) continue;  // a map holds each id once
      out += ',';
      append_scored_entry(out, top.token, top.logprob, static_cast<int32_t>(j + 1), speller);
    }
    out += '}';
  }
  out += ']';
}

std::vector<LegacyToken> echoed_prompt_tokens(std::span<const int32_t> prompt, const std::vector<SampledToken>& scored) {
  std::vector<LegacyToken> out;
  out.reserve(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) {
    out.push_back({prompt[i], i > 0 && i - 1 < scored.size() ? &scored[i - 1] : nullptr});
  }
  return out;
}

std::vector<LegacyToken> generated_tokens(const std::vector<SampledToken>& sampled) {
  std::vector<LegacyToken> out;
  out.reserve(sampled.size());
  for (const SampledToken& t : sampled) out.push_back({t.token, &t});
  return out;
}

std::string legacy_logprobs(std::span<const LegacyToken> tokens, size_t alternatives, const TokenSpeller& speller,
                            int64_t& offset) {
  std::vector<std::string> spellings;
  spellings.reserve(tokens.size());
  for (const LegacyToken& t : tokens) spellings.push_back(speller.spell(t.token));
  std::string out = "{\"text_offset\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{}", offset);
    offset += count_characters(spellings[i]);
  }
  out += "],\"token_logprobs\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    if (tokens[i].scores) {
      append_logprob(out, tokens[i].scores->logprob);
    } else {
      out += "null";
    }
  }
  out += "],\"tokens\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, spellings[i]);
  }
  out += "],\"top_logprobs\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    const SampledToken* scores = tokens[i].scores;
    if (!scores) {
      out += "null";
      continue;
    }
    out += '{';
    std::set<std::string> written;
    auto entry = [&](const std::string& spelling, float logprob) {
      if (!written.insert(spelling).second) return;
      if (written.size() > 1) out += ',';
      append_json_string(out, spelling);
      out += ':';
      append_logprob(out, logprob);
    };
    const size_t shown = std::min(alternatives, scores->top_logprobs.size());
    for (size_t j = 0; j < shown; ++j) entry(speller.spell(scores->top_logprobs[j].token), scores->top_logprobs[j].logprob);
    entry(spellings[i], scores->logprob);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace sabre::openai
