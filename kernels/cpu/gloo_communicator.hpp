#pragma once
// The CPU ranks' collectives: Gloo (the CPU collectives library PyTorch uses) over its TCP transport.
// Ranks in one process share one TCP device (one event loop), which is several times faster on a small
// machine than a loop per rank.

#include <memory>

#include "kernels/communicator.hpp"

namespace sabre {

// Connects this rank to the group (blocks until every rank has joined, or options.timeout). Throws
// std::runtime_error naming the rank and the cause.
std::unique_ptr<Communicator> make_gloo_communicator(const CommunicatorOptions& options);

}  // namespace sabre
