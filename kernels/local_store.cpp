#include <fmt/format.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>

#include "kernels/communicator.hpp"

namespace sabre {
namespace {

class LocalStore final : public RendezvousStore {
 public:
  void set(const std::string& key, const std::vector<char>& value) override {
    {
      std::lock_guard lock(mutex_);
      values_[key] = value;
    }
    changed_.notify_all();
  }

  std::vector<char> get(const std::string& key, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return values_.count(key) > 0; })) {
      throw std::runtime_error(fmt::format("rendezvous: no rank set '{}' within {} ms", key, timeout.count()));
    }
    return values_.at(key);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<char>> values_;
};

}  // namespace

std::shared_ptr<RendezvousStore> make_local_store() { return std::make_shared<LocalStore>(); }

}  // namespace sabre
