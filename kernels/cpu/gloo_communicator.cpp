#include "kernels/cpu/gloo_communicator.hpp"

#include <fmt/format.h>
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

namespace sabre {
namespace {

// Gloo's store interface over ours, with the group's prefix on every key.
class StoreAdapter final : public gloo::rendezvous::Store {
 public:
  StoreAdapter(std::shared_ptr<RendezvousStore> store, std::string prefix, std::chrono::milliseconds timeout)
      : store_(std::move(store)), prefix_(std::move(prefix)), timeout_(timeout) {}
  void set(const std::string& key, const std::vector<char>& data) override { store_->set(prefix_ + key, data); }
  std::vector<char> get(const std::string& key) override { return store_->get(prefix_ + key, timeout_); }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    for (const std::string& key : keys) store_->get(prefix_ + key, timeout);
  }

 private:
  std::shared_ptr<RendezvousStore> store_;
  std::string prefix_;
  std::chrono::milliseconds timeout_;
};

// One TCP device per listening address in this process, shared by its ranks.
std::shared_ptr<gloo::transport::Device> shared_device(const std::string& hostname) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<gloo::transport::Device>> devices;
  std::lock_guard lock(mutex);
  auto& device = devices[hostname];
  if (!device) {
    gloo::transport::tcp::attr attr;
    attr.hostname = hostname;
    device = gloo::transport::tcp::CreateDevice(attr);
  }
  return device;
}

void check_float(ElementType type, const char* what) {
  if (type != ElementType::f32 && type != ElementType::i32) {
    throw std::invalid_argument(fmt::format("Gloo {}: {} data (the CPU ranks exchange f32 and i32)", what,
                                            element_type_name(type)));
  }
}

class GlooCommunicator final : public Communicator {
 public:
  explicit GlooCommunicator(const CommunicatorOptions& o) : rank_(o.rank), size_(o.world_size) {
    auto context = std::make_shared<gloo::rendezvous::Context>(o.rank, o.world_size);
    context->setTimeout(o.timeout);
    StoreAdapter store(o.store, o.group + "/", o.timeout);
    auto device = shared_device(o.hostname);
    try {
      context->connectFullMesh(store, device);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("rank {} of {} could not join the Gloo group '{}': {}", o.rank,
                                           o.world_size, o.group, e.what()));
    }
    context_ = std::move(context);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string name() const override { return "gloo"; }

  void all_reduce_sum(void* data, int64_t count, ElementType type) override {
    check_float(type, "all-reduce");
    gloo::AllreduceOptions options(live());
    options.setTag(next_tag());
    if (type == ElementType::f32) {
      options.setOutput(static_cast<float*>(data), static_cast<size_t>(count));
      options.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    } else {
      options.setOutput(static_cast<int32_t*>(data), static_cast<size_t>(count));
      options.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<int32_t>));
    }
    run("all-reduce", [&] { gloo::allreduce(options); });
  }

  void all_gather(const void* input, void* output, int64_t count, ElementType type) override {
    check_float(type, "all-gather");
    gloo::AllgatherOptions options(live());
    options.setTag(next_tag());
    // Gloo takes a mutable input pointer; it only reads it.
    auto* in = static_cast<char*>(const_cast<void*>(input));
    const size_t bytes = element_bytes(type, count);
    options.setInput(in, bytes);
    options.setOutput(static_cast<char*>(output), bytes * static_cast<size_t>(size_));
    run("all-gather", [&] { gloo::allgather(options); });
  }

  void broadcast(void* data, int64_t count, ElementType type, int root) override {
    gloo::BroadcastOptions options(live());
    options.setTag(next_tag());
    options.setOutput(static_cast<char*>(data), element_bytes(type, count));
    options.setRoot(root);
    run("broadcast", [&] { gloo::broadcast(options); });
  }

  void barrier() override {
    gloo::BarrierOptions options(live());
    options.setTag(next_tag());
    run("barrier", [&] { gloo::barrier(options); });
  }

  void abort() override {
    // Closing this rank's connections fails at once every peer collective waiting on this rank. A rank
    // inside a collective (abort may come from another thread: the engine's, after a step timeout) keeps
    // its connections until that collective ends, since closing them would also deafen it to the peers
    // whose closing is what wakes it; it closes them on its way out (run()).
    aborted_ = true;
    if (!in_collective_) close_connections();
  }

 private:
  const std::shared_ptr<gloo::Context>& live() const {
    if (aborted_) throw CollectiveError(fmt::format("rank {}: the Gloo group was aborted", rank_));
    return context_;
  }
  uint32_t next_tag() { return tag_++; }
  template <class F>
  void run(const char* what, F&& f) {
    in_collective_ = true;
    try {
      f();
    } catch (const std::exception& e) {
      in_collective_ = false;
      if (aborted_) close_connections();
      throw CollectiveError(fmt::format("rank {} of {}: Gloo {} failed: {}", rank_, size_, what, e.what()));
    }
    in_collective_ = false;
    if (aborted_) {
      close_connections();
      throw CollectiveError(fmt::format("rank {} of {}: Gloo {}: the group was aborted", rank_, size_, what));
    }
  }
  void close_connections() {
    std::lock_guard lock(close_mutex_);
    if (!closed_) context_->closeConnections();
    closed_ = true;
  }

  int rank_;
  int size_;
  std::shared_ptr<gloo::Context> context_;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> in_collective_{false};
  std::mutex close_mutex_;
  bool closed_ = false;
  uint32_t tag_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_gloo_communicator(const CommunicatorOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw std::invalid_argument(fmt::format("rank {} of a group of {}", options.rank, options.world_size));
  }
  if (!options.store) throw std::invalid_argument("make_gloo_communicator: no rendezvous store");
  return std::make_unique<GlooCommunicator>(options);
}

}  // namespace sabre
