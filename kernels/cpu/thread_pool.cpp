#include "kernels/cpu/thread_pool.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SABRE_CPU_RELAX() _mm_pause()
#else
#define SABRE_CPU_RELAX() ((void)0)
#endif

namespace sabre {
namespace {

// ~50-150 us of pause instructions (depending on the CPU's pause latency): longer than the gaps
// between a decode step's loops, much shorter than a scheduler tick.
constexpr int kSpinIterations = 2048;

}  // namespace

template <class Ready>
bool ThreadPool::spin_until(Ready&& ready) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (ready()) return true;
    SABRE_CPU_RELAX();
  }
  return ready();
}

ThreadPool::ThreadPool(unsigned extra_threads) {
  workers_.reserve(extra_threads);
  for (unsigned i = 0; i < extra_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run(int64_t count, IndexFunctionRef body) {
  if (count <= 0) return;
  if (workers_.empty() || count == 1) {
    for (int64_t i = 0; i < count; ++i) body(i);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    next_ = 0;
    busy_ = static_cast<unsigned>(workers_.size()) + 1;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_chunks();
  spin_until([this] { return busy_.load(std::memory_order_acquire) == 0; });
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return busy_ == 0; });
  body_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

// Takes indices one at a time under the lock: loop bodies here are whole heads or rows (microseconds or
// more), so the lock is cheap next to them and the load balances itself.
void ThreadPool::run_chunks() {
  std::unique_lock lock(mutex_);
  while (next_ < count_) {
    const int64_t index = next_++;
    const auto* body = body_;
    lock.unlock();
    try {
      (*body)(index);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      next_ = count_;  // stop handing out work
      continue;
    }
    lock.lock();
  }
  if (--busy_ == 0) done_.notify_all();
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return stopping_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_relaxed) != seen; });
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_chunks();
  }
}

}  // namespace sabre
