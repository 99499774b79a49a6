#include "kernels/cuda/nccl_communicator.hpp"

#include <fmt/format.h>
#include <nccl.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/cuda_device.hpp"
#include "kernels/cuda/cuda_memory.hpp"

namespace sabre {
namespace {

ncclDataType_t nccl_type(ElementType type) {
  switch (type) {
    case ElementType::f32: return ncclFloat32;
    case ElementType::bf16: return ncclBfloat16;
    case ElementType::f16: return ncclFloat16;
    case ElementType::i32: return ncclInt32;
    case ElementType::i8: return ncclInt8;
    default:
      throw std::invalid_argument(fmt::format("NCCL collectives on {} data", element_type_name(type)));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommunicatorOptions& o, int device, cudaStream_t stream)
      : rank_(o.rank), size_(o.world_size), device_(device), stream_(stream) {
    ncclUniqueId id{};
    const std::string key = o.group + "/nccl_unique_id";
    if (o.rank == 0) {
      check(ncclGetUniqueId(&id), "making the group's unique id");
      o.store->set(key, std::vector<char>(id.internal, id.internal + sizeof(id.internal)));
    } else {
      const std::vector<char> bytes = o.store->get(key, o.timeout);
      if (bytes.size() != sizeof(id.internal)) throw std::runtime_error("rendezvous: a malformed NCCL unique id");
      std::memcpy(id.internal, bytes.data(), sizeof(id.internal));
    }
    cuda::use_device(device_);
    ncclComm_t comm = nullptr;
    check(ncclCommInitRank(&comm, size_, id, rank_), "joining the group");
    comm_ = comm;
    scratch_ = cuda::DeviceMemory(sizeof(int32_t), "an NCCL barrier's scratch");
  }

  ~NcclCommunicator() override {
    if (ncclComm_t comm = comm_.exchange(nullptr)) ncclCommDestroy(comm);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string name() const override { return "nccl"; }

  void all_reduce_sum(void* data, int64_t count, ElementType type) override {
    check(ncclAllReduce(data, data, static_cast<size_t>(count), nccl_type(type), ncclSum, live(), stream_),
          "all-reduce");
  }

  void all_gather(const void* input, void* output, int64_t count, ElementType type) override {
    check(ncclAllGather(input, output, static_cast<size_t>(count), nccl_type(type), live(), stream_), "all-gather");
  }

  void broadcast(void* data, int64_t count, ElementType type, int root) override {
    check(ncclBroadcast(data, data, static_cast<size_t>(count), nccl_type(type), root, live(), stream_), "broadcast");
  }

  void barrier() override {
    check(ncclAllReduce(scratch_.get(), scratch_.get(), 1, ncclInt32, ncclSum, live(), stream_), "barrier");
    cuda::check(cudaStreamSynchronize(stream_), "waiting for the barrier");
  }

  void abort() override {
    // May come from another thread (the engine's, after a step timeout): NCCL allows that, and it ends
    // the collectives running on this rank and makes its peers' fail instead of waiting.
    if (ncclComm_t comm = comm_.exchange(nullptr)) ncclCommAbort(comm);
  }

 private:
  ncclComm_t live() const {
    ncclComm_t comm = comm_.load();
    if (comm == nullptr) throw CollectiveError(fmt::format("rank {}: the NCCL group was aborted", rank_));
    return comm;
  }
  void check(ncclResult_t result, const char* what) const {
    if (result == ncclSuccess) return;
    throw CollectiveError(fmt::format("rank {} of {} (GPU {}): NCCL {} failed: {}", rank_, size_, device_, what,
                                         ncclGetErrorString(result)));
  }

  int rank_;
  int size_;
  int device_;
  cudaStream_t stream_;
  std::atomic<ncclComm_t> comm_{nullptr};
  cuda::DeviceMemory scratch_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommunicatorOptions& options, int device,
                                                     cudaStream_t stream) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw std::invalid_argument(fmt::format("rank {} of a group of {}", options.rank, options.world_size));
  }
  if (!options.store) throw std::invalid_argument("make_nccl_communicator: no rendezvous store");
  return std::make_unique<NcclCommunicator>(options, device, stream);
}

}  // namespace sabre
