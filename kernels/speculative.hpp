#pragma once
// Verifying speculated tokens so that what is generated keeps the target model's distribution (the
// rejection rule of Leviathan et al. and Chen et al., 2023). A proposer (a draft model, or prompt
// lookup) offered tokens d_1..d_k, each drawn from its distribution q_i (one-hot for a greedy draft or
// for prompt lookup); the target gave its distribution p_i at each of the k+1 positions. Token d_i is
// accepted with probability min(1, p_i(d_i) / q_i(d_i)), in order; at the first rejection the token is
// drawn from max(0, p_i - q_i) normalised instead, and the run ends; if all k are accepted, one more is
// drawn from p_{k+1}. Every token so produced follows the target's distribution exactly, whatever q
// was. With greedy targets (p one-hot) this accepts exactly the proposed tokens equal to the target's
// argmax, so greedy output is the same as without speculation.
//
// The random numbers are counter-based (kernels/philox.hpp) under the sequence's seed and stream, in
// their own streams apart from the ordinary draws: indexed by the position of the token decided, a
// verification gives the same result alone or batched, on any backend whose distributions agree.

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/sampling.hpp"

namespace sabre {

struct SpeculationRandom {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t first_index = 0;  // the output position of the first proposed token
};

struct VerifiedRun {
  std::vector<int32_t> tokens;  // the accepted proposals, then the corrected or bonus token
  int32_t accepted = 0;         // how many proposals were accepted (tokens.size() - 1)
};

// `proposed` (k ids), `draft` (k rows of `vocab` probabilities, or empty for a one-hot proposer such as
// prompt lookup or a greedy draft), `target` (k + 1 rows of `vocab` probabilities, each summing to one).
// Throws std::invalid_argument when the sizes disagree or a proposed id is outside the vocabulary.
VerifiedRun verify_speculation(std::span<const int32_t> proposed, std::span<const float> draft,
                               std::span<const float> target, int64_t vocab, const SpeculationRandom& random);

// A verified token as the sampler reports one (kernels/sampling.hpp): its log-probability under the raw
// logits' log_softmax and the `top_logprobs` most likely ids (ties to the lower id), from a row of
// logits on the host.
SampledToken scored_token(std::span<const float> logits, int32_t token, int32_t top_logprobs);

}  // namespace sabre
