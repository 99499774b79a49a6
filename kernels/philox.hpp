#pragma once
// Counter-based randomness for sampling: Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy
// as 1, 2, 3", SC11; what cuRAND's and PyTorch's GPU generators use). A draw is a pure function of
// (seed, stream, index), so a request's n-th token uses the same number on any backend, in any batch,
// on any thread, after any preemption. Plain C++, to be compiled for a GPU as it is.

#include <array>
#include <cstdint>

namespace sabre {

// One Philox4x32-10 block: 10 rounds of the multiply-xor network over the 128-bit counter with the
// 64-bit key, the key bumped by the Weyl constants between rounds.
constexpr std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMultiplier0 = 0xD2511F53u, kMultiplier1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t product0 = uint64_t{kMultiplier0} * counter[0];
    const uint64_t product1 = uint64_t{kMultiplier1} * counter[2];
    counter = {static_cast<uint32_t>(product1 >> 32) ^ counter[1] ^ key[0], static_cast<uint32_t>(product1),
               static_cast<uint32_t>(product0 >> 32) ^ counter[3] ^ key[1], static_cast<uint32_t>(product0)};
    key = {key[0] + kWeyl0, key[1] + kWeyl1};
  }
  return counter;
}

// A uniform number in [0, 1) with 53 random bits: the `index`-th draw of `stream` under `seed`. The
// sampler uses stream = the sample's index among a request's n, index = the token's position in the
// sample's output.
constexpr double sampling_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const auto r = philox4x32_10({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                               {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  const uint64_t bits = ((uint64_t{r[0]} << 32) | r[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace sabre
