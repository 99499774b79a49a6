#pragma once
// The step contract between the model and a backend.
//
// A step is one forward pass over a batch of prompt chunks and decode tokens of several sequences. It is
// described once, on the host, by a StepDescription; Backend::upload_step copies it into buffers the
// backend sized once at start (Backend::prepare, from StepLimits), and every operation of the step reads
// it from there: the embedding reads the token ids, RoPE the positions, store_kv the slot mapping,
// attention the block tables and context lengths, the LM head the logits rows. Nothing about the step
// travels with each operation, so a device uploads the step once rather than once per layer, and a step
// of a given padded size runs the same operations on the same addresses every time (what capturing a
// decode step in a CUDA graph and replaying it needs).
//
// Rows are the step's tokens; a sequence is a contiguous run of rows (a prompt chunk is a run of many
// rows, a decode a run of one). A backend may ask for more rows than the batch has
// (Backend::padded_rows: a CUDA graph captured for 8 rows replays a step of 5 as 8): padding rows come
// after the real ones, belong to no sequence, carry slot -1 (their keys and values are never stored) and
// never have logits. The model runner (model/step_builder.hpp) is where padding happens.

#include <cstdint>
#include <vector>

#include "config/engine_options.hpp"

namespace sabre {

class KvCache;

// What a backend's step buffers and workspace are sized for, once, at start. The defaults are the
// engine's (SchedulerConfig); the engine passes its own settings.
struct StepLimits {
  int64_t max_tokens = SchedulerConfig{}.max_num_batched_tokens;  // rows of one step, padding included
  int64_t max_sequences = SchedulerConfig{}.max_num_seqs;         // sequences of one step
  // Rows whose logits one step computes: one per sequence, and the rows of chunks scoring their prompt.
  int64_t max_logit_rows = SchedulerConfig{}.max_num_seqs + SchedulerConfig{}.max_prompt_logprob_rows;
  // Width of a sequence's block table in the step. 0: the model's context in blocks of one token, which
  // fits every block size (the model runner resolves it; the engine gives max_model_len / block_size).
  int64_t max_blocks_per_sequence = 0;

  bool operator==(const StepLimits&) const = default;
};

// What Backend::prepare sizes for: limits covering both the ones prepared for (`current`) and the ones
// asked for. Throws std::invalid_argument naming the numbers when `asked` is not a step.
StepLimits grown_step_limits(const StepLimits& current, const StepLimits& asked);

struct StepDescription {
  KvCache* kv = nullptr;                // the block pool the step's sequences read and write
  std::vector<int32_t> token_ids;       // [rows]; padding rows: 0
  std::vector<int32_t> positions;       // [rows]; padding rows: 0
  // [rows]: where each row's keys and values go, block id * block_size + slot within the block; -1 for
  // padding rows, which store nothing.
  std::vector<int32_t> slot_mapping;
  // [sequences + 1]: sequence s owns rows query_start[s] .. query_start[s + 1] - 1 (ascending, from 0).
  std::vector<int32_t> query_start;
  // [sequences]: the positions sequence s has after this step (tokens cached before it + its rows here):
  // its row i sits at context_lens[s] - (its rows) + i and attends to keys 0 .. that position.
  std::vector<int32_t> context_lens;
  // [sequences x block_table_width], row-major: sequence s's KV blocks in order; entries past the blocks
  // its context needs are -1.
  std::vector<int32_t> block_tables;
  int64_t block_table_width = 0;
  std::vector<int32_t> logit_rows;      // rows whose next-token logits the step computes, in this order
  // Tensor parallelism: this rank's share of the step. The description is the same on every rank.
  int32_t rank = 0;
  int32_t world_size = 1;

  int64_t rows() const { return static_cast<int64_t>(token_ids.size()); }  // padding included
  int64_t real_rows() const { return query_start.empty() ? 0 : query_start.back(); }
  int64_t sequences() const { return static_cast<int64_t>(context_lens.size()); }
  int64_t rows_of(int64_t s) const { return query_start[static_cast<size_t>(s + 1)] - query_start[static_cast<size_t>(s)]; }
  const int32_t* block_table(int64_t s) const { return block_tables.data() + s * block_table_width; }

  void clear();
};

// Checks that the description is well formed (array sizes agree, query_start ascends from 0, every
// sequence has rows, slots and logit rows are in range, padding rows carry slot -1) and that it fits
// `limits`. Throws std::invalid_argument naming what is wrong; backends call it in upload_step.
void check_step(const StepDescription& step, const StepLimits& limits);
// Checks that every block a sequence's context needs is in its table and inside the step's pool, and that
// every real row's slot is inside the pool. Throws std::invalid_argument naming the sequence or row.
void check_step_kv(const StepDescription& step);

}  // namespace sabre
