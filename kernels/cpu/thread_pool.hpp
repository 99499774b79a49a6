#pragma once
// A fixed set of worker threads for data-parallel loops (attention over heads, norms over rows). The
// calling thread works too, so a pool of N threads keeps N + 1 busy; a pool of 0 runs loops inline.
// Threads are created once: a loop costs a wake-up, not a thread start. Between loops a thread spins
// briefly before it sleeps, because a decode step runs ~150 loops a few microseconds apart and a
// futex wake-up on the development VM costs tens of microseconds each (2 threads decoded at 1.15x one
// thread with sleeping workers); the spin is bounded so an idle pool gives its cores back.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace sabre {

// A non-owning reference to a callable `void(int64_t)`: unlike std::function it never allocates, so a
// parallel loop on the decode path costs no heap traffic. The callable must outlive the call.
class IndexFunctionRef {
 public:
  template <class F>
  IndexFunctionRef(F& f)  // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int64_t i) { (*static_cast<F*>(o))(i); }) {}
  void operator()(int64_t i) const { call_(object_, i); }

 private:
  void* object_;
  void (*call_)(void*, int64_t);
};

class ThreadPool {
 public:
  explicit ThreadPool(unsigned extra_threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  unsigned concurrency() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Calls body(i) for every i in [0, count), spread over the threads; returns when all are done. The
  // first exception thrown by a body is rethrown here.
  template <class F>
  void parallel_for(int64_t count, F&& body) {
    run(count, IndexFunctionRef(body));
  }

 private:
  void run(int64_t count, IndexFunctionRef body);
  void worker_loop();
  void run_chunks();
  // Spins up to kSpinIterations pauses until `ready` holds; false when it did not.
  template <class Ready>
  static bool spin_until(Ready&& ready);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Written under mutex_, read without it while spinning.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  // The loop in progress.
  const IndexFunctionRef* body_ = nullptr;
  int64_t count_ = 0;
  int64_t next_ = 0;
  std::atomic<unsigned> busy_{0};
  std::exception_ptr error_;
};

}  // namespace sabre
