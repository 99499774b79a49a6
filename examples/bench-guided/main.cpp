// sabre-bench-guided: what a guided-decoding mask costs per generated token, without a model. For each
// constraint, generations pick a random allowed token at every step (as a sampler at a high temperature
// would) and time TokenConstraint::allowed_tokens, the work the sampler adds per step. The first
// generation starts with an empty mask cache (cold); the later ones reuse it, as requests with the same
// schema do in a server.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "examples/tokenize/args.hpp"
#include "model/structured/guided_compiler.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace {

using namespace sabre;

struct Named {
  std::string name;
  GuidedDecoding guided;
};

std::vector<Named> constraints() {
  return {
      {"json_object", {GuidedKind::json_object, ""}},
      {"schema: person",
       {GuidedKind::json_schema,
        R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":120},
            "email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string"},"maxItems":4},
            "city":{"enum":["Paris","Rome","Oslo"]}},"required":["name","age","city"]})"}},
      {"schema: bounded strings",
       {GuidedKind::json_schema, R"({"type":"object","properties":{"a":{"type":"string","maxLength":40},
            "b":{"type":"array","items":{"type":"number"}}},"required":["a","b"]})"}},
      {"regex: dates and words", {GuidedKind::regex, R"((\d{4}-\d{2}-\d{2} [a-z]+ ){1,8})"}},
  };
}

struct Timing {
  std::vector<double> ms;
  double mean() const {
    double s = 0;
    for (double v : ms) s += v;
    return ms.empty() ? 0 : s / static_cast<double>(ms.size());
  }
  double percentile(double p) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  }
};

// One generation of up to `steps` tokens; appends the time of each mask to `timing`.
void generate(const structured::CompiledGrammar& compiled, int64_t vocab, const std::vector<int32_t>& ends, int steps,
              std::mt19937& rng, Timing& timing) {
  auto constraint = compiled.start(ends);
  std::vector<uint32_t> words(static_cast<size_t>((vocab + 31) / 32));
  std::vector<int32_t> allowed;
  for (int step = 0; step < steps; ++step) {
    std::fill(words.begin(), words.end(), 0u);
    const auto started = std::chrono::steady_clock::now();
    constraint->allowed_tokens({}, words);
    timing.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    allowed.clear();
    for (int32_t t = 0; t < vocab; ++t) {
      if ((words[static_cast<size_t>(t) / 32] >> (t % 32)) & 1) allowed.push_back(t);
    }
    // Ends only when nothing else is allowed: the longest outputs are the hardest case.
    std::vector<int32_t> others;
    for (int32_t t : allowed) {
      if (std::find(ends.begin(), ends.end(), t) == ends.end()) others.push_back(t);
    }
    if (others.empty()) return;
    constraint->commit(others[std::uniform_int_distribution<size_t>(0, others.size() - 1)(rng)]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("sabre-bench-guided"));
  std::string tokenizer_path;
  int steps = 128;
  int runs = 5;
  int seed = 1;
  cli::ArgParser args("sabre-bench-guided", "Measures the per-token cost of guided decoding's masks.");
  args.option("--tokenizer", &tokenizer_path, "FILE", "a tokenizer.json", true);
  args.option("--steps", &steps, "N", "tokens per generation at most (default 128)");
  args.option("--runs", &runs, "N", "generations per constraint; the first is cold (default 5)");
  args.option("--seed", &seed, "N", "random seed of the token choices (default 1)");
  try {
    if (!args.parse(argc, argv)) {
      std::cout << args.usage();
      return 0;
    }
    auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_file(tokenizer_path));
    const auto vocab = static_cast<int64_t>(tokenizer->vocab_size());
    const std::vector<int32_t> ends{0};
    auto started = std::chrono::steady_clock::now();
    structured::GuidedCompiler compiler(tokenizer, vocab, ends);
    compiler.compile({GuidedKind::regex, "a"});  // builds the vocabulary's trie
    fmt::print("sabre-bench-guided: {} ({} tokens); vocabulary trie built in {:.0f} ms\n", tokenizer_path, vocab,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    fmt::print("{:<26} {:>9} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>10}\n", "constraint", "compile", "cold mean",
               "warm mean", "warm p50", "warm p99", "hits", "misses", "miss mean");
    std::mt19937 rng(static_cast<uint32_t>(seed));
    for (const auto& [name, guided] : constraints()) {
      started = std::chrono::steady_clock::now();
      const auto compiled = compiler.compile(guided);
      const double compile_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      Timing cold, warm;
      generate(*compiled, vocab, ends, steps, rng, cold);
      for (int r = 1; r < runs; ++r) generate(*compiled, vocab, ends, steps, rng, warm);
      const auto stats = compiled->stats();
      fmt::print("{:<26} {:>7.1f}ms {:>8.3f}ms {:>8.3f}ms {:>8.3f}ms {:>8.3f}ms {:>8} {:>8} {:>8.3f}ms\n", name,
                 compile_ms, cold.mean(), warm.mean(), warm.percentile(0.5), warm.percentile(0.99), stats.hits,
                 stats.misses, stats.misses ? stats.miss_seconds * 1000 / static_cast<double>(stats.misses) : 0.0);
    }
    fmt::print("per step: TokenConstraint::allowed_tokens, one thread; {} generations of up to {} tokens each\n", runs,
               steps);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
