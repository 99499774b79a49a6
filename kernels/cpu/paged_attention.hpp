#pragma once
// Attention over a paged KV cache (CpuBackend's block pool): the keys and values of one sequence and one
// kv head are read through its block table, block by block, without first copying them together.
//
// The kernel works on a group of queries that read the same kv head of the same sequence (the q heads
// of a grouped-query group, several rows of a prompt chunk), loading each key and value once for up to
// four queries (a tile) and passing all tiles over one block of keys while it is in L1. Each query is nevertheless computed by exactly the operations, in exactly the order, it
// would get alone: its own FMA chains for the dot products and for the weighted sum of values, its own
// softmax over a contiguous array of scores indexed by key position. The grouping, the block ids, the
// block size and the chunk a query arrived in change only which loads are shared, never a result bit.
// That is what makes CpuBackend's batch-invariant mode reproduce a request's logits exactly whether it
// ran alone, in chunks or beside other sequences.
//
// The KV cache may hold fp32, bf16, f16, int8 or fp8 (e4m3) elements: each is widened to fp32 as it is
// loaded (16-bit types exactly, so a bf16 cache gives the bits an fp32 cache holding the same rounded
// values gives), and an 8-bit type's per-slot scale multiplies a key's dot product and a value's
// softmax weight once instead of every element. The invariance holds for every type.

#include <cstdint>
#include <span>

#include "kernels/element_type.hpp"

namespace sabre::cpu {

// One sequence's keys and values for one kv head in a block pool. Token position p lives in block
// block_table[p / block_size] at slot p % block_size; that slot's key starts at element
// (block * block_size + slot) * row_stride of `keys` (the kv head's offset already added), its value
// likewise in `values`. Elements are of `type`: f32, bf16 or f16 as they are, or i8 / fp8_e4m3 times the
// slot's scale (key_scales / value_scales[slot index * scale_stride], the kv head's offset added).
struct PagedKvHead {
  const void* keys = nullptr;
  const void* values = nullptr;
  const int32_t* block_table = nullptr;
  int64_t block_size = 0;
  int64_t row_stride = 0;  // in elements
  ElementType type = ElementType::f32;
  const float* key_scales = nullptr;
  const float* value_scales = nullptr;
  int64_t scale_stride = 0;

  // The pool slot holding `position`, and where its row starts (in elements).
  int64_t slot_index(int64_t position) const {
    return int64_t{block_table[position / block_size]} * block_size + position % block_size;
  }
  int64_t slot_offset(int64_t position) const { return slot_index(position) * row_stride; }
};

// One query vector (head_dim floats), how many keys it sees (causal: its position + 1) and where its
// head_dim outputs go.
struct AttentionQuery {
  const float* q = nullptr;
  int64_t visible = 0;
  float* out = nullptr;
};

// Scratch floats paged_attention needs for these queries (a row of scores each).
int64_t paged_attention_scratch_floats(std::span<const AttentionQuery> queries);

// out = softmax(q . k_j * scale over j < visible) . v_j for every query, over kv's keys and values.
// `scratch` holds paged_attention_scratch_floats(queries) floats. Keys are visited in blocks of 64 by
// every tile before the next block (so a long prompt reads its context from L1, not L3, per tile); the
// weighted sums wait in `out` between blocks, which changes no bit.
void paged_attention(std::span<const AttentionQuery> queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                     float* scratch);

}  // namespace sabre::cpu
