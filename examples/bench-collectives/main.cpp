// sabre-bench-collectives: the cost of the collectives a tensor-parallel decode step makes, measured on
// CPU ranks (one thread each, Gloo over the loopback, as the engine runs them), and what they add to
// one decode step of a model of the given shape: an all-reduce of `hidden` floats per row after the
// embedding and after each layer's o_proj and down (2 * layers + 1), and an all-gather of each rank's
// vocab / ranks logits.
//
//   sabre-bench-collectives [--ranks N] [--hidden H] [--layers L] [--vocab V] [--rows R] [--iterations K]
//
// Defaults: Qwen2.5-0.5B's shape (896, 24 layers, 151936), 2 ranks, 1 row (batch-1 decode).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "kernels/backend_factory.hpp"
#include "kernels/cpu/gloo_communicator.hpp"

namespace {

struct Options {
  int ranks = 2;
  int64_t hidden = 896, layers = 24, vocab = 151936, rows = 1;
  int iterations = 200;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (flag == "--ranks") o.ranks = static_cast<int>(v);
    else if (flag == "--hidden") o.hidden = v;
    else if (flag == "--layers") o.layers = v;
    else if (flag == "--vocab") o.vocab = v;
    else if (flag == "--rows") o.rows = v;
    else if (flag == "--iterations") o.iterations = static_cast<int>(v);
    else throw std::runtime_error("unknown flag " + flag);
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto store = sabre::make_local_store();
  std::vector<double> reduce_us, gather_us;
  std::vector<std::thread> threads;
  const int64_t shard = (o.vocab + o.ranks - 1) / o.ranks;
  for (int rank = 0; rank < o.ranks; ++rank) {
    threads.emplace_back([&, rank] {
      sabre::CommunicatorOptions options;
      options.rank = rank;
      options.world_size = o.ranks;
      options.store = store;
      auto c = sabre::make_gloo_communicator(options);
      std::vector<float> hidden(static_cast<size_t>(o.hidden * o.rows), 1.0f);
      std::vector<float> logits(static_cast<size_t>(shard * o.rows), 1.0f);
      std::vector<float> gathered(logits.size() * static_cast<size_t>(o.ranks));
      for (int i = 0; i < o.iterations + 10; ++i) {
        c->barrier();
        auto t0 = std::chrono::steady_clock::now();
        c->all_reduce_sum(hidden.data(), static_cast<int64_t>(hidden.size()), sabre::ElementType::f32);
        auto t1 = std::chrono::steady_clock::now();
        c->all_gather(logits.data(), gathered.data(), static_cast<int64_t>(logits.size()), sabre::ElementType::f32);
        auto t2 = std::chrono::steady_clock::now();
        if (rank == 0 && i >= 10) {
          reduce_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
          gather_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double reduce = median(reduce_us), gather = median(gather_us);
  const double per_step = static_cast<double>(2 * o.layers + 1) * reduce + gather;
  fmt::print("sabre-bench-collectives: Gloo over the loopback, {} ranks (threads of one process), {} hardware "
             "threads\n",
             o.ranks, std::thread::hardware_concurrency());
  fmt::print("  all-reduce of {} x {} floats: median {:.1f} us ({} calls)\n", o.rows, o.hidden, reduce, o.iterations);
  fmt::print("  all-gather of {} x {} logits per rank: median {:.1f} us\n", o.rows, shard, gather);
  fmt::print("  one decode step of {} layers: {} all-reduces + 1 all-gather = {:.2f} ms\n", o.layers, 2 * o.layers + 1,
             per_step / 1000.0);
  return 0;
}
