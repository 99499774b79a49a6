#include <fmt/format.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
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
    const bool found =
        changed_.wait_for(lock, timeout, [&] { return values_.count(key) > 0 || cancelled_.has_value(); });
    if (cancelled_) throw std::runtime_error(fmt::format("rendezvous cancelled: {}", *cancelled_));
    if (!found) {
      throw std::runtime_error(fmt::format("rendezvous: no rank set '{}' within {} ms", key, timeout.count()));
    }
    return values_.at(key);
  }

  void cancel(const std::string& why) override {
    {
      std::lock_guard lock(mutex_);
      if (!cancelled_) cancelled_ = why;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<char>> values_;
  std::optional<std::string> cancelled_;
};

}  // namespace

std::shared_ptr<RendezvousStore> make_local_store() { return std::make_shared<LocalStore>(); }

}  // namespace sabre
