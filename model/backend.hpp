#pragma once
// The operations the Llama/Qwen forward pass needs, implemented once per device: kernels/cpu (fp32,
// OpenBLAS, threads) now, kernels/cuda later. The model (model/transformer.cpp) is written only against
// this interface, so a new backend never touches the model code.
//
// Pointers passed to the operations live in the backend's own memory space (host memory for the CPU
// backend, device memory for CUDA): buffers come from allocate()/upload(), and only download() brings
// values back to the host. Activations are row-major with one row per token. A "row stride" lets an
// operation work on one part of a fused row (the q, k or v part of a fused QKV projection) in place.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/forward_batch.hpp"

namespace sabre {

// A buffer of fp32 values in a backend's memory, freed when the object dies.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual float* data() = 0;
  virtual const float* data() const = 0;
  virtual size_t size() const = 0;  // in floats
  // The same memory as raw bytes, for weights kept in a packed (quantised) format.
  const std::byte* bytes() const { return reinterpret_cast<const std::byte*>(data()); }
};

// The shape of a paged KV cache: `num_blocks` blocks of `block_size` token slots, each slot holding the
// keys and values of every layer (kv_heads x head_dim floats each). Blocks are named by integer ids
// 0..num_blocks-1; a sequence's block table lists the blocks that hold its tokens in order (token p in
// block table[p / block_size], slot p % block_size), so sequences can share blocks (prefix caching)
// and need not be contiguous.
struct KvCacheShape {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;
  int64_t num_blocks = 0;

  int64_t token_capacity() const { return block_size * num_blocks; }
};

// A pool of KV blocks on a backend (the scheduler's BlockManager decides which block holds what). The
// backend decides the layout inside; the model only asks for one by shape and names it in SequenceSlice.
class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual const KvCacheShape& shape() const = 0;
  int64_t block_size() const { return shape().block_size; }
  int64_t num_blocks() const { return shape().num_blocks; }
};

// Copy every layer's keys and values of block `from` into block `to` (the scheduler's copy-on-write
// of a shared, partially filled block before a sequence appends to it).
struct KvBlockCopy {
  int32_t from = -1;
  int32_t to = -1;
};

// How a matrix's values are stored. f32: plain floats. q8_0 / q4_1: GGUF's blocks of 32 weights along a
// row (Q8_0: fp16 scale + 32 int8; Q4_1: fp16 scale, fp16 min, 32 nibbles), kept as the file has them so
// that decoding reads 4.5-8.5 bits per weight instead of 32.
enum class WeightFormat { f32, q8_0, q4_1 };

// A linear layer as Hugging Face stores it: weight [out_features, in_features] row-major (y = x W^T + b);
// bias is nullptr when the layer has none. For f32, `weight` holds the values; for a quantised format
// `blocks` holds out_features rows of in_features / 32 blocks each (and `weight` is null).
struct LinearWeight {
  const float* weight = nullptr;
  const float* bias = nullptr;
  int64_t out_features = 0;
  int64_t in_features = 0;
  WeightFormat format = WeightFormat::f32;
  const std::byte* blocks = nullptr;
};

// Where the heads of q (or k) sit inside a row: `heads` runs of `head_dim` values starting at `offset`
// in rows of `row_stride` values.
struct HeadLayout {
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t offset = 0;
  int64_t row_stride = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory ----
  virtual std::unique_ptr<DeviceBuffer> allocate(size_t floats) = 0;
  virtual std::unique_ptr<DeviceBuffer> upload(std::span<const float> host) = 0;
  // The same for a host array the caller no longer needs: a host-memory backend adopts it instead of
  // copying, which keeps the peak memory of loading a model at one copy of the weights.
  virtual std::unique_ptr<DeviceBuffer> upload(std::vector<float>&& host) { return upload(std::span<const float>(host)); }
  // Packed weight bytes (a quantised matrix); read back through DeviceBuffer::bytes().
  virtual std::unique_ptr<DeviceBuffer> upload_bytes(std::span<const std::byte> host) = 0;
  virtual void download(const float* source, std::span<float> host) = 0;
  // A pool of shape.num_blocks KV blocks. Throws std::invalid_argument for an empty shape and
  // std::bad_alloc when the memory is not there.
  virtual std::unique_ptr<KvCache> create_kv_cache(const KvCacheShape& shape) = 0;
  // The memory one block of `shape` takes (all layers, keys and values), for sizing a pool from a
  // memory budget; shape.num_blocks is ignored.
  virtual size_t kv_block_bytes(const KvCacheShape& shape) const = 0;
  // Applies the copies in order (all layers, keys and values); ids are checked against the pool.
  virtual void copy_kv_blocks(KvCache& cache, std::span<const KvBlockCopy> copies) = 0;

  // ---- operations ----
  // out[i] = table[ids[i]] for rows of `dim` values (ids already checked against the vocabulary).
  virtual void embedding(std::span<const int32_t> ids, const float* table, int64_t dim, float* out) = 0;
  // y[rows, out] = x[rows, in] W^T (+ b), W in any WeightFormat. One row takes the matrix-vector path.
  virtual void linear(const float* x, int64_t rows, const LinearWeight& w, float* y) = 0;
  // y = x / rms(x) * weight per row of `dim` (y may equal x).
  virtual void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) = 0;
  // The same per head, in place (Qwen3's q_norm / k_norm), weight has head_dim values.
  virtual void head_rms_norm(float* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) = 0;
  // cos_sin[row] = [cos(p * f) ..., sin(p * f) ...] * attention_scaling for p = positions[row] and the
  // head_dim/2 frequencies f; computed once per step, shared by every layer.
  virtual void rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq,
                          float attention_scaling, float* cos_sin) = 0;
  // Rotates every head in place with Hugging Face's rotate_half pairing (i, i + head_dim/2).
  virtual void apply_rope(float* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) = 0;
  // Writes this step's keys and values (rows of each slice) at layer `layer` into the slots their block
  // tables give positions cached_tokens..cached_tokens+num_rows-1.
  virtual void store_kv(const float* x, const HeadLayout& k, const HeadLayout& v,
                        std::span<const SequenceSlice> sequences, int64_t layer) = 0;
  // Causal attention of each slice's queries over its KV, read through its block table (positions
  // 0..cached_tokens+i for row i), grouped-query (q head h reads kv head h / (q heads / kv heads)). out: rows of q.heads * head_dim.
  virtual void attention(const float* x, const HeadLayout& q, std::span<const SequenceSlice> sequences,
                         int64_t layer, float scale, float* out) = 0;
  // out[rows, inter] = silu(gate) * up where gate_up rows are [gate (inter) | up (inter)].
  virtual void silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out) = 0;
  // x += y over n values.
  virtual void add(float* x, const float* y, size_t n) = 0;
  // out[i] = x[rows[i]] for rows of `dim` values.
  virtual void gather_rows(const float* x, int64_t dim, std::span<const int32_t> rows, float* out) = 0;
};

}  // namespace sabre
