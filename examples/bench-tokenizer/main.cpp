// sabre-bench-tokenizer: encode throughput (MB/s) of Sabre's tokenizer on a large text file, the
// counterpart of scripts/bench_tokenizer_hf.py (same text, same "one encode call" measure).

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "examples/tokenize/args.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds used by this process: on a shared, busy machine this is steadier than wall time.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main(int argc, char** argv) {
  using namespace sabre;
  spdlog::set_default_logger(spdlog::stderr_color_mt("sabre-bench-tokenizer"));
  std::string tokenizer_dir;
  std::string file;
  int repeat = 3;
  bool add_special_tokens = false;
  bool by_lines = false;
  cli::ArgParser args("sabre-bench-tokenizer", "Measures tokenizer encode throughput on one large text.");
  args.option("--tokenizer", &tokenizer_dir, "DIR", "model or tokenizer directory (or a tokenizer.json file)", true);
  args.option("--file", &file, "F", "UTF-8 text to encode (scripts/make_bench_text.py writes one)", true);
  args.option("--repeat", &repeat, "N", "timed runs after the first (cold) one; the best is reported (default 3)");
  args.flag("--add-special-tokens", &add_special_tokens, "apply the post-processor, as in encode(add_special_tokens=True)");
  args.flag("--lines", &by_lines,
            "encode each line separately (keeping its newline), like the HF script's encode_batch over lines");
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
    // The inputs of one run: the whole text, or its lines with their line endings (as Python's
    // splitlines(keepends=True) on this text, which has no other line separators than \n).
    std::vector<std::string_view> inputs;
    if (by_lines) {
      const std::string_view all = text;
      size_t begin = 0;
      while (begin < all.size()) {
        size_t end = all.find('\n', begin);
        end = end == std::string_view::npos ? all.size() : end + 1;
        inputs.push_back(all.substr(begin, end - begin));
        begin = end;
      }
    } else {
      inputs.push_back(text);
    }
    const std::string what = by_lines ? fmt::format("{} lines one by one", inputs.size()) : "single call";

    auto start = std::chrono::steady_clock::now();
    const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_dir);
    std::cout << "load: " << seconds_since(start) * 1e3 << " ms\n";

    start = std::chrono::steady_clock::now();
    double cpu_start = cpu_seconds();
    auto encode_all = [&] {
      size_t n = 0;
      for (auto input : inputs) n += tokenizer.encode(input, add_special_tokens).size();
      return n;
    };
    size_t tokens = encode_all();
    const double cold = seconds_since(start);
    const double cold_cpu = cpu_seconds() - cpu_start;
    std::cout << "Sabre encode (" << what << ", cold cache): " << mb / cold << " MB/s wall, " << mb / cold_cpu
              << " MB/s CPU (" << tokens << " tokens, " << mb << " MB)\n";
    double best = 1e300;
    double best_cpu = 1e300;
    for (int i = 0; i < repeat; ++i) {
      start = std::chrono::steady_clock::now();
      cpu_start = cpu_seconds();
      tokens = encode_all();
      best = std::min(best, seconds_since(start));
      best_cpu = std::min(best_cpu, cpu_seconds() - cpu_start);
    }
    std::cout << "Sabre encode (" << what << ", warm cache): " << mb / best << " MB/s wall, " << mb / best_cpu
              << " MB/s CPU, best of " << repeat << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sabre-bench-tokenizer: " << e.what() << "\n";
    return 1;
  }
}
