// The memory read bandwidth a decode step can hope for: K threads each sum their share of a buffer far
// larger than the caches, as a decode step reads every weight once. docs/PERFORMANCE.md divides the
// bytes a token's decode reads by its time by this figure.
//
//   sabre-bench-memory [--mib N] [--threads K] [--rounds R]
//
// Prints the best and median of R rounds in GiB/s, with the buffer size and thread count.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  int64_t mib = 1024;
  unsigned threads = std::thread::hardware_concurrency();
  int rounds = 7;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--mib") o.mib = std::stoll(value());
    else if (arg == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--rounds") o.rounds = std::stoi(value());
    else throw std::invalid_argument(fmt::format("unknown option '{}' (usage: sabre-bench-memory [--mib N] [--threads K] [--rounds R])", arg));
  }
  if (o.mib < 64 || o.threads < 1 || o.rounds < 1) {
    throw std::invalid_argument("--mib must be at least 64, --threads and --rounds at least 1");
  }
  return o;
}

// The sum of a range of 64-bit words, in four independent chains (the compiler vectorises it), so that
// the loads, not the additions, set the pace.
uint64_t sum_words(const uint64_t* words, size_t count) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    a += words[i];
    b += words[i + 1];
    c += words[i + 2];
    d += words[i + 3];
  }
  for (; i < count; ++i) a += words[i];
  return a + b + c + d;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const size_t words = static_cast<size_t>(o.mib) * (1 << 20) / sizeof(uint64_t);
    std::vector<uint64_t> buffer(words);
    for (size_t i = 0; i < words; ++i) buffer[i] = i;  // touched, so every page is resident
    std::vector<double> rates;
    uint64_t checksum = 0;
    for (int round = 0; round < o.rounds; ++round) {
      std::vector<uint64_t> sums(o.threads);
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < o.threads; ++t) {
        threads.emplace_back([&, t] {
          const size_t begin = words * t / o.threads, end = words * (t + 1) / o.threads;
          sums[t] = sum_words(buffer.data() + begin, end - begin);
        });
      }
      for (auto& t : threads) t.join();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (uint64_t s : sums) checksum += s;
      rates.push_back(static_cast<double>(o.mib) / 1024.0 / seconds);
    }
    std::sort(rates.begin(), rates.end());
    std::cout << fmt::format(
        "sabre-bench-memory: read {} MiB with {} threads, {} rounds: best {:.2f} GiB/s, median {:.2f} GiB/s "
        "(checksum {})\n",
        o.mib, o.threads, o.rounds, rates.back(), rates[rates.size() / 2], checksum % 1000);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sabre-bench-memory: " << e.what() << "\n";
    return 2;
  }
}
