#pragma once
// A paged KV cache: a pool of blocks on a backend, each holding `block_size` token slots of every
// layer's keys and values. The scheduler's BlockManager decides which block holds what; the backend
// decides the layout inside.

#include <cstdint>

#include "config/engine_options.hpp"
#include "kernels/element_type.hpp"

namespace sabre {

// `num_blocks` blocks of `block_size` token slots, each slot holding the keys and values of every layer
// (kv_heads x head_dim elements of `dtype` each, plus a scale per kv head for the 8-bit types). Blocks
// are named by integer ids 0..num_blocks-1; a sequence's block table lists the blocks that hold its
// tokens in order (token p in block table[p / block_size], slot p % block_size), so sequences can share
// blocks (prefix caching) and need not be contiguous.
struct KvCacheShape {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;
  int64_t num_blocks = 0;
  ElementType dtype = ElementType::f32;  // f32, bf16, f16, i8 or fp8_e4m3
  // The query heads that read the pool (a multiple of kv_heads; 0: as many as kv_heads): how a GPU
  // backend cuts attention into blocks, fixed per pool so a step's work list is known when it is uploaded.
  int64_t q_heads = 0;

  int64_t token_capacity() const { return block_size * num_blocks; }
  int64_t query_heads() const { return q_heads > 0 ? q_heads : kv_heads; }
};

class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual const KvCacheShape& shape() const = 0;
  int64_t block_size() const { return shape().block_size; }
  int64_t num_blocks() const { return shape().num_blocks; }
};

// The element type a KV cache of `requested` type holds; `automatic` is what the backend computes attention
// in (Backend::activation_type).
ElementType kv_element_type(KvCacheDtype requested, ElementType automatic);

// Copy every layer's keys and values of block `from` into block `to` (the scheduler's copy-on-write
// of a shared, partially filled block before a sequence appends to it).
struct KvBlockCopy {
  int32_t from = -1;
  int32_t to = -1;
};

}  // namespace sabre
