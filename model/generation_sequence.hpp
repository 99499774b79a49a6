#pragma once
// What generate() and generate_speculative() share for their one sequence: the checks of a prompt and
// its options, the sequence's sampler registered with the backend for as long as generation runs, and
// the prompt's prefill in chunks of the model's step size.

#include <cstdint>
#include <span>

#include "kernels/backend.hpp"
#include "model/generator.hpp"
#include "model/transformer.hpp"

namespace sabre {

// Throws std::invalid_argument for an empty prompt, a negative max_new_tokens, or a prompt and output
// longer than the model's context.
void check_generation(const Transformer& model, std::span<const int32_t> prompt, const GenerationOptions& options);

// The sequence's sampler (with ignore_eos the eos ids neither end generation nor get masked by
// min_tokens; stop_token_ids still do), released however generation ends. Its keys lie far above the
// engine's sequence ids, so that a generation can share a backend with an engine.
class SequenceSampler {
 public:
  SequenceSampler(Backend& backend, std::span<const int32_t> prompt, const GenerationOptions& options);
  ~SequenceSampler();
  SequenceSampler(const SequenceSampler&) = delete;
  SequenceSampler& operator=(const SequenceSampler&) = delete;

  const SamplerSpec& spec() const { return spec_; }
  uint64_t key() const { return spec_.key; }
  bool is_stop(int32_t token) const;

 private:
  Backend& backend_;
  SamplerSpec spec_;
};

// Computes the prompt's KV in `kv`, in chunks of the model's step size; the last chunk leaves its last
// row's logits in model.logits().
void prefill_prompt(Transformer& model, std::span<const int32_t> prompt, const SequenceKv& kv, ForwardBatch& batch);

}  // namespace sabre
