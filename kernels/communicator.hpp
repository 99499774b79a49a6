#pragma once
// Collectives among the ranks of one tensor-parallel group, on data in each rank's backend memory: NCCL
// on the rank's stream for CUDA ranks, Gloo over TCP for CPU ranks (Backend::create_communicator picks).
// Every rank of the group calls each collective in the same order with the same sizes. The algorithms
// are the libraries': none is written here.

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/element_type.hpp"

namespace sabre {

// A collective that failed, or was refused after an abort: usually the echo of a peer's failure (the
// peer aborted, died or closed its connections), which the engine tells apart from a rank's own.
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string name() const = 0;  // "gloo", "nccl"

  // data = the sum over ranks of every rank's data, in place: `count` elements of `type`.
  virtual void all_reduce_sum(void* data, int64_t count, ElementType type) = 0;
  // output = every rank's `count` input elements, rank 0's first (output holds world_size * count).
  virtual void all_gather(const void* input, void* output, int64_t count, ElementType type) = 0;
  // data = root's data on every rank.
  virtual void broadcast(void* data, int64_t count, ElementType type, int root) = 0;
  virtual void barrier() = 0;
  // Fails whatever collective this rank is in or enters from now on, and makes the peers' collectives
  // with it fail too (they see it gone) instead of waiting: what a failing rank does so that no rank
  // hangs. The communicator is unusable afterwards.
  virtual void abort() = 0;
};

// Where the ranks of a group find each other: a key-value store every rank reaches (in memory for ranks
// in one process, the engine's store actor for ranks in other processes). get() waits for the key.
class RendezvousStore {
 public:
  virtual ~RendezvousStore() = default;
  virtual void set(const std::string& key, const std::vector<char>& value) = 0;
  // Throws std::runtime_error naming the key when it is not set within `timeout`, or once cancelled.
  virtual std::vector<char> get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Fails every get() waiting now or to come with `why`: a rank that cannot join (its load failed) must
  // not leave the others waiting out the timeout.
  virtual void cancel(const std::string& why) = 0;
};

// The store for ranks that share a process.
std::shared_ptr<RendezvousStore> make_local_store();

struct CommunicatorOptions {
  int rank = 0;
  int world_size = 1;
  std::shared_ptr<RendezvousStore> store;
  std::string group = "tp";          // prefixes the store's keys, so groups can share a store
  std::string hostname = "127.0.0.1";  // the address this rank listens on (Gloo's TCP transport)
  // How long a collective or the rendezvous may wait for a peer before failing.
  std::chrono::milliseconds timeout = std::chrono::seconds(600);
};

}  // namespace sabre
