#pragma once
// Prompt lookup, the draft-free way to propose tokens for speculative decoding: the last n tokens of a
// sequence (its prompt and what it generated) are looked up earlier in the same sequence, and the tokens
// that followed the latest earlier occurrence are proposed. It pays off where the output repeats the
// input (summaries, code edits, retrieval answers) and costs a scan of the sequence when it does not.

#include <cstdint>
#include <span>
#include <vector>

namespace sabre {

struct NgramOptions {
  int32_t max_ngram = 4;  // the longest suffix tried first: a longer match predicts better
  int32_t min_ngram = 1;  // the shortest suffix still worth a proposal
  int32_t max_window = 4096;  // only the last this many tokens are searched (bounds the scan's cost)
};

// Up to `k` tokens that followed the latest earlier occurrence of the longest suffix of `tokens` (of
// max_ngram .. min_ngram tokens) that occurs earlier; empty when none does. Never proposes past the
// end of `tokens`: an occurrence near the end yields fewer than k.
std::vector<int32_t> propose_ngram(std::span<const int32_t> tokens, int32_t k, const NgramOptions& options = {});

}  // namespace sabre
