#pragma once
// The CUDA ranks' collectives: NCCL, one communicator per rank from a unique id rank 0 makes and the
// others read from the rendezvous store, every collective queued on the rank's stream (so it is ordered
// with the rank's kernels and can be recorded in a CUDA graph).

#include <cuda_runtime_api.h>

#include <memory>

#include "kernels/communicator.hpp"

namespace sabre {

// Joins the group on GPU `device` (blocks until every rank has joined). Throws std::runtime_error
// naming the rank and NCCL's error.
std::unique_ptr<Communicator> make_nccl_communicator(const CommunicatorOptions& options, int device,
                                                     cudaStream_t stream);

}  // namespace sabre
