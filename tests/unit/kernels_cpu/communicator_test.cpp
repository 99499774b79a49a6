// The CPU ranks' collectives (Gloo over TCP on the loopback): ranks in threads of one process, as the
// engine runs them. Sums, gathers and broadcasts are exact; a rank that aborts makes its peers' waiting
// collective fail at once instead of hanging; a rank that never comes makes the rendezvous fail in time.

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/gloo_communicator.hpp"

using namespace sabre;
using namespace std::chrono_literals;

namespace {

// Catch2's assertions are not thread-safe: the rank threads check with this, and on_ranks rethrows the
// first failure in the test's thread.
void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("expected " + what);
}

// Runs body(communicator) on `size` ranks, one thread each, and `beside` (if any) in one more thread (the
// engine's, which may abort them), then rethrows the first failure. The communicators are destroyed only
// after every thread has ended, so that none is freed while another thread is still inside it.
void on_ranks(int size, const std::function<void(Communicator&)>& body, std::chrono::milliseconds timeout = 20s,
              const std::function<void()>& beside = {}) {
  auto store = make_local_store();
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<Communicator>> communicators(static_cast<size_t>(size));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        CommunicatorOptions options;
        options.rank = rank;
        options.world_size = size;
        options.store = store;
        options.timeout = timeout;
        auto& communicator = communicators[static_cast<size_t>(rank)];
        communicator = make_gloo_communicator(options);
        body(*communicator);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  if (beside) threads.emplace_back(beside);
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace

TEST_CASE("gloo: all-reduce, all-gather, broadcast and barrier over 1, 2 and 4 ranks", "[communicator]") {
  for (const int size : {1, 2, 4}) {
    INFO(size << " ranks");
    CHECK_NOTHROW(on_ranks(size, [&](Communicator& c) {
      expect(c.world_size() == size, "the group's size");
      std::vector<float> values(1000);
      for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(c.rank() + 1) * static_cast<float>(i);
      c.all_reduce_sum(values.data(), static_cast<int64_t>(values.size()), ElementType::f32);
      const float ranks_sum = static_cast<float>(size * (size + 1) / 2);
      for (size_t i = 0; i < values.size(); ++i) {
        expect(values[i] == ranks_sum * static_cast<float>(i), "the all-reduced sum at " + std::to_string(i));
      }

      std::vector<int32_t> ids = {c.rank(), 10 * c.rank()};
      std::vector<int32_t> all(2 * static_cast<size_t>(size));
      c.all_gather(ids.data(), all.data(), 2, ElementType::i32);
      for (int r = 0; r < size; ++r) {
        expect(all[2 * static_cast<size_t>(r)] == r && all[2 * static_cast<size_t>(r) + 1] == 10 * r,
               "rank " + std::to_string(r) + "'s ids gathered");
      }

      std::vector<float> root_data = {static_cast<float>(c.rank()), 7.5f};
      c.broadcast(root_data.data(), 2, ElementType::f32, size - 1);
      expect(root_data[0] == static_cast<float>(size - 1), "the root's broadcast value");
      c.barrier();
    }));
  }
}

TEST_CASE("gloo: a rank that aborts fails its peer's collective at once", "[communicator]") {
  std::atomic<bool> peer_failed{false};
  CHECK_THROWS_WITH(on_ranks(
                        2,
                        [&](Communicator& c) {
                          if (c.rank() == 1) {
                            std::this_thread::sleep_for(200ms);
                            c.abort();
                            return;
                          }
                          std::vector<float> x(16, 1.0f);
                          try {
                            c.all_reduce_sum(x.data(), 16, ElementType::f32);
                          } catch (...) {
                            peer_failed = true;
                            throw;
                          }
                        },
                        60s),
                    Catch::Contains("rank 0 of 2") && Catch::Contains("all-reduce") &&
                        !Catch::Contains("timed out", Catch::CaseSensitive::No));  // failed at once, not by the 60 s timeout
  CHECK(peer_failed);
}

TEST_CASE("gloo: aborting every rank from another thread frees the one waiting in a collective",
          "[communicator]") {
  // What the engine does after a step timeout: rank 0 waits in an all-reduce that rank 1 (busy
  // elsewhere) has not entered; the engine aborts both.
  std::atomic<int> ready{0};
  std::array<std::atomic<Communicator*>, 2> ranks{nullptr, nullptr};
  const auto engine = [&] {
    while (ready.load() < 2) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(300ms);
    for (auto& rank : ranks) rank.load()->abort();
  };
  std::atomic<bool> rank1_refused{false};
  CHECK_THROWS_WITH(on_ranks(
                        2,
                        [&](Communicator& c) {
                          ranks[static_cast<size_t>(c.rank())] = &c;
                          ++ready;
                          std::vector<float> x(16, 1.0f);
                          if (c.rank() == 1) {
                            std::this_thread::sleep_for(2s);
                            try {
                              c.all_reduce_sum(x.data(), 16, ElementType::f32);
                            } catch (const std::exception& e) {
                              rank1_refused = std::string(e.what()).find("aborted") != std::string::npos;
                            }
                            return;
                          }
                          c.all_reduce_sum(x.data(), 16, ElementType::f32);
                        },
                        60s, engine),
                    Catch::Contains("rank 0 of 2") && Catch::Contains("all-reduce") &&
                        !Catch::Contains("timed out", Catch::CaseSensitive::No));  // failed at once, not by the 60 s timeout
  CHECK(rank1_refused);
}

TEST_CASE("gloo: a rank that never joins fails the rendezvous within the timeout", "[communicator]") {
  auto store = make_local_store();
  CommunicatorOptions options;
  options.rank = 0;
  options.world_size = 2;
  options.store = store;
  options.timeout = 500ms;
  CHECK_THROWS_WITH(make_gloo_communicator(options), Catch::Contains("rank 0 of 2") && Catch::Contains("join"));
  options.rank = 2;
  CHECK_THROWS_WITH(make_gloo_communicator(options), Catch::Contains("rank 2 of a group of 2"));
}
