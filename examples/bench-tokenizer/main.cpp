// sabre-bench-tokenizer: encode throughput (MB/s) of Sabre's tokenizer on a large text file, the
// counterpart of scripts/bench_tokenizer_hf.py (same text, same "one encode call" measure).

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "examples/tokenize/args.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sabre;
  spdlog::set_default_logger(spdlog::stderr_color_mt("sabre-bench-tokenizer"));
  std::string tokenizer_dir;
  std::string file;
  int repeat = 3;
  bool add_special_tokens = false;
  cli::ArgParser args("sabre-bench-tokenizer", "Measures tokenizer encode throughput on one large text.");
  args.option("--tokenizer", &tokenizer_dir, "DIR", "model or tokenizer directory (or a tokenizer.json file)", true);
  args.option("--file", &file, "F", "UTF-8 text to encode (scripts/make_bench_text.py writes one)", true);
  args.option("--repeat", &repeat, "N", "timed runs after the first (cold) one; the best is reported (default 3)");
  args.flag("--add-special-tokens", &add_special_tokens, "apply the post-processor, as in encode(add_special_tokens=True)");
  args.epilog("The first run starts with an empty word cache and is reported separately as 'cold'.");
  try {
    if (!args.parse(argc, argv)) {
      std::cout << args.usage();
      return 0;
    }
    if (repeat < 1) throw std::invalid_argument("--repeat must be at least 1");
  } catch (const std::invalid_argument& e) {
    std::cerr << "sabre-bench-tokenizer: " << e.what() << "\n";
    return 2;
  }
  try {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + file);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string text = std::move(buffer).str();
    const double mb = static_cast<double>(text.size()) / 1e6;

    auto start = std::chrono::steady_clock::now();
    const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_dir);
    std::cout << "load: " << seconds_since(start) * 1e3 << " ms\n";

    start = std::chrono::steady_clock::now();
    size_t tokens = tokenizer.encode(text, add_special_tokens).size();
    const double cold = seconds_since(start);
    std::cout << "Sabre encode (single call, cold cache): " << mb / cold << " MB/s (" << tokens << " tokens, " << mb
              << " MB)\n";
    double best = 1e300;
    for (int i = 0; i < repeat; ++i) {
      start = std::chrono::steady_clock::now();
      tokens = tokenizer.encode(text, add_special_tokens).size();
      best = std::min(best, seconds_since(start));
    }
    std::cout << "Sabre encode (single call, warm cache): " << mb / best << " MB/s best of " << repeat << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sabre-bench-tokenizer: " << e.what() << "\n";
    return 1;
  }
}
