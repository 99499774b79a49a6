#include "benchmark_runner.hpp"

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <exception>

#include "arrival_schedule.hpp"
#include "http_stream_client.hpp"

namespace sabre::loadtest {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The state the dispatcher and the request coroutines share (one thread: no locks).
struct RunState {
  explicit RunState(asio::any_io_executor executor) : wake(executor) {}
  asio::steady_timer wake;  // cancelled whenever a request finishes, to wake the dispatcher
  int64_t in_flight = 0;
  size_t done = 0, failed = 0;
};

// Waits until `ready()` holds; re-checked after every request completion.
template <typename Predicate>
asio::awaitable<void> wait_until(RunState& state, Predicate ready) {
  while (!ready()) {
    state.wake.expires_at(Clock::time_point::max());
    boost::system::error_code ignored;
    co_await state.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<void> one_request(ConnectionPool& pool, StreamRequest request, Clock::time_point epoch,
                                  RequestOutcome& slot, RunState& state, const ProgressCallback& progress) {
  slot = co_await run_stream_request(pool, request, epoch);
  --state.in_flight;
  ++state.done;
  if (!slot.success) ++state.failed;
  if (progress) progress(state.done, state.failed);
  state.wake.cancel();
}

asio::awaitable<void> dispatch(const RunConfig& config, const std::vector<std::string>& bodies,
                               RunResult& result, const ProgressCallback& progress) {
  auto executor = co_await asio::this_coro::executor;
  ConnectionPool pool(executor, config.url,
                      std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000.0)));
  co_await pool.check_reachable();

  const double rate = config.request_rate.value_or(INFINITY);
  const std::vector<double> offsets = poisson_arrival_offsets(bodies.size(), rate, config.seed);
  const int64_t cap = config.max_concurrency.value_or(INT64_MAX);
  RunState state(executor);
  result.outcomes.resize(bodies.size());
  asio::steady_timer pacer(executor);
  const auto epoch = Clock::now();
  for (size_t i = 0; i < bodies.size(); ++i) {
    const auto due = epoch + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(offsets[i]));
    if (due > Clock::now()) {
      pacer.expires_at(due);
      co_await pacer.async_wait(asio::use_awaitable);
    }
    co_await wait_until(state, [&] { return state.in_flight < cap; });
    ++state.in_flight;
    result.peak_in_flight = std::max(result.peak_in_flight, state.in_flight);
    StreamRequest request{config.endpoint, bodies[i], config.api_key};
    asio::co_spawn(executor, one_request(pool, std::move(request), epoch, result.outcomes[i], state, progress),
                   asio::detached);
  }
  co_await wait_until(state, [&] { return state.done == bodies.size(); });
  result.duration_s = std::chrono::duration<double>(Clock::now() - epoch).count();
  result.connections_opened = pool.connections_opened();
}

}  // namespace

RunResult run_benchmark(const RunConfig& config, const std::vector<std::string>& bodies,
                        const ProgressCallback& progress) {
  asio::io_context io;
  RunResult result;
  std::exception_ptr failure;
  asio::co_spawn(io, dispatch(config, bodies, result, progress), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return result;
}

}  // namespace sabre::loadtest
