// sabre-bench-cuda: what the GPU can do and how much of it the CUDA backend gets.
//
//   sabre-bench-cuda [--model DIR [--load-format dummy]] [--decode-tokens N] [--prompt-tokens P] [--skip-micro]
//
// 1. Copy bandwidth: a 2 GiB device-to-device copy, bytes read plus written: the HBM roofline.
// 2. Matrix products through CudaBackend::linear in bf16 at Llama-3.1-8B's shapes and 1 to 4096 rows,
//    in TFLOP/s, beside an 8192^3 product as the measured peak.
// 3. Decode attention: 64 decode rows over 4096 cached tokens each (32 q / 8 kv heads of 128, bf16 KV),
//    keys and values read per second as a share of the copy bandwidth.
// 4. With --model: batch-1 greedy decoding (prompt, then N tokens through forward + sampling), tokens
//    per second against the roofline (copy bandwidth / weight bytes).
// Each figure is the median of repeated runs after a warm-up; the device and the command are printed.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_check.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "model/step_builder.hpp"
#include "model/transformer.hpp"

namespace {

using sabre::ElementType;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  sabre::LoadFormat load_format = sabre::LoadFormat::automatic;
  int64_t decode_tokens = 256;
  int64_t prompt_tokens = 128;
  bool micro = true;  // --skip-micro: only the model's decode
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--load-format") o.load_format = value() == "dummy" ? sabre::LoadFormat::dummy : sabre::LoadFormat::automatic;
    else if (arg == "--decode-tokens") o.decode_tokens = std::stoll(value());
    else if (arg == "--prompt-tokens") o.prompt_tokens = std::stoll(value());
    else if (arg == "--skip-micro") o.micro = false;
    else throw std::runtime_error("unknown option " + arg);
  }
  return o;
}

// Median seconds of `reps` runs of `work` (each ended by synchronising), after two warm-ups.
template <class Work>
double median_seconds(sabre::CudaBackend& backend, int reps, Work&& work) {
  for (int i = 0; i < 2; ++i) work();
  backend.synchronize();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = Clock::now();
    work();
    backend.synchronize();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::vector<std::byte> random_bf16(int64_t n) {
  std::vector<std::byte> bytes(static_cast<size_t>(n) * 2);
  uint32_t state = 12345;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 1664525u + 1013904223u;
    // bf16 values in about +-0.03: sign, exponent 121..122, random mantissa.
    const auto h = static_cast<uint16_t>(((state >> 31) << 15) | ((121u + ((state >> 20) & 1u)) << 7) | ((state >> 8) & 0x7Fu));
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return bytes;
}

double copy_bandwidth(sabre::CudaBackend& backend) {
  const int64_t n = int64_t{1} << 30;  // 1 Gi bf16 values: 2 GiB
  auto a = backend.allocate(ElementType::bf16, n), b = backend.allocate(ElementType::bf16, n);
  const double s = median_seconds(backend, 10, [&] {
    sabre::cuda::check(cudaMemcpy(b->raw(), a->raw(), a->bytes(), cudaMemcpyDeviceToDevice), "copy");
  });
  return 2.0 * static_cast<double>(a->bytes()) / s;
}

void gemm_table(sabre::CudaBackend& backend) {
  struct Shape {
    const char* name;
    int64_t out, in;
  };
  const Shape shapes[] = {{"qkv 6144x4096", 6144, 4096}, {"o 4096x4096", 4096, 4096},
                          {"gate_up 28672x4096", 28672, 4096}, {"down 4096x14336", 4096, 14336}};
  const auto tflops = [&](int64_t rows, int64_t out, int64_t in) {
    auto x = backend.upload(ElementType::bf16, rows * in, random_bf16(rows * in));
    auto w = backend.upload(ElementType::bf16, out * in, random_bf16(out * in));
    auto y = backend.allocate(ElementType::bf16, rows * out);
    const sabre::LinearWeight weight{w->raw(), nullptr, out, in, ElementType::bf16};
    const double s = median_seconds(backend, 20, [&] { backend.linear(x->raw(), rows, weight, y->raw()); });
    return 2.0 * static_cast<double>(rows * out * in) / s / 1e12;
  };
  const double peak = tflops(8192, 8192, 8192);
  fmt::print("\nmatrix products (bf16, fp32 accumulate, cuBLASLt through CudaBackend::linear), TFLOP/s:\n");
  fmt::print("  8192x8192x8192 (the measured peak): {:.0f}\n", peak);
  fmt::print("  {:<20}", "rows");
  for (int64_t rows : {1, 16, 128, 1024, 4096}) fmt::print("{:>10}", rows);
  fmt::print("\n");
  for (const Shape& s : shapes) {
    fmt::print("  {:<20}", s.name);
    for (int64_t rows : {1, 16, 128, 1024, 4096}) fmt::print("{:>10.1f}", tflops(rows, s.out, s.in));
    fmt::print("\n");
  }
  fmt::print("  (4096 rows as a share of the peak: see the last column / {:.0f})\n", peak);
}

void decode_attention(sabre::CudaBackend& backend, double bandwidth) {
  const int64_t batch = 64, context = 4096, q_heads = 32, kv_heads = 8, head_dim = 128, block = 16;
  sabre::KvCacheShape shape{1, kv_heads, head_dim, block, batch * context / block, ElementType::bf16};
  shape.q_heads = q_heads;
  auto kv = backend.create_kv_cache(shape);
  sabre::ForwardBatch batch_rows;
  const std::vector<int32_t> token = {1};
  for (int64_t s = 0; s < batch; ++s) {
    std::vector<int32_t> table(static_cast<size_t>(context / block));
    for (size_t b = 0; b < table.size(); ++b) table[b] = static_cast<int32_t>(s * (context / block) + static_cast<int64_t>(b));
    batch_rows.add_sequence(token, context - 1, kv.get(), table, true);
  }
  backend.prepare({batch, batch, batch, context / block});
  sabre::StepDescription step;
  sabre::build_step(batch_rows, batch, backend.limits().max_blocks_per_sequence, step);
  backend.upload_step(step);
  const int64_t stride = (q_heads + 2 * kv_heads) * head_dim;
  auto x = backend.upload(ElementType::bf16, batch * stride, random_bf16(batch * stride));
  auto out = backend.allocate(ElementType::bf16, batch * q_heads * head_dim);
  const sabre::HeadLayout q{q_heads, head_dim, 0, stride};
  const double s = median_seconds(backend, 20, [&] { backend.attention(0, x->raw(), q, 0.088f, out->raw()); });
  const double bytes = static_cast<double>(batch * context * kv_heads * head_dim * 2 * 2);
  fmt::print("\ndecode attention: {} rows x {} cached tokens, {} q / {} kv heads of {}, bf16 KV: {:.1f} us, {:.0f} GB/s "
             "of keys and values = {:.0f}% of the copy bandwidth\n",
             batch, context, q_heads, kv_heads, head_dim, s * 1e6, bytes / s / 1e9, 100.0 * bytes / s / bandwidth);
}

void batch_one_decode(sabre::CudaBackend& backend, const Options& o, double bandwidth) {
  sabre::Checkpoint checkpoint = sabre::open_checkpoint(o.model, o.load_format);
  sabre::StepLimits limits{std::max<int64_t>(o.prompt_tokens, 16), 1, 1, 0};
  sabre::Transformer model(checkpoint.config, *checkpoint.weights, backend, limits);
  checkpoint.weights.reset();
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_tokens));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(100 + i * 7 % 1000);
  sabre::GenerationOptions options;
  options.max_new_tokens = o.decode_tokens;
  options.sampling.temperature = 0;
  options.ignore_eos = true;
  sabre::generate(model, prompt, options);  // warm-up: plans, first launches
  const sabre::GenerationResult r = sabre::generate(model, prompt, options);
  const double weight_bytes = static_cast<double>(model.weights().bytes());
  const double roofline = bandwidth / weight_bytes;
  fmt::print("\nbatch-1 decode of {} ({} layers, {:.2f} GiB of weights in {}): prompt {} tokens at {:.0f} tok/s, "
             "then {} tokens at {:.1f} tok/s; roofline {:.1f} tok/s (copy bandwidth / weight bytes): {:.0f}%\n",
             o.model, checkpoint.config.num_hidden_layers, weight_bytes / (1 << 30),
             sabre::element_type_name(backend.activation_type()), r.prompt_tokens, r.prompt_tokens_per_second(),
             r.tokens.size(), r.decode_tokens_per_second(), roofline, 100.0 * r.decode_tokens_per_second() / roofline);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    spdlog::set_level(spdlog::level::warn);
    sabre::CudaBackend backend(sabre::CudaBackendOptions{});
    const auto& d = backend.device();
    std::string command;
    for (int i = 0; i < argc; ++i) command += std::string(i ? " " : "") + argv[i];
    fmt::print("sabre-bench-cuda on {} (compute {}.{}, {} SMs, {:.1f} GiB)\ncommand: {}\n", d.name, d.major, d.minor,
               d.multiprocessors, static_cast<double>(d.total_memory) / (1 << 30), command);
    const double bandwidth = copy_bandwidth(backend);
    fmt::print("\ncopy bandwidth (2 GiB device to device, read + written): {:.0f} GB/s\n", bandwidth / 1e9);
    if (o.micro) {
      gemm_table(backend);
      decode_attention(backend, bandwidth);
    }
    if (!o.model.empty()) batch_one_decode(backend, o, bandwidth);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sabre-bench-cuda: {}\n", e.what());
    return 1;
  }
}
