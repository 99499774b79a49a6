// The linear layers of one decode step, alone: a GGUF model's matrices, in the order and the fusions the
// forward pass uses (q|k|v and gate|up stacked as the loader stacks them), multiplied by CpuBackend's
// linear() for R rows, layer after layer, then the LM head. The rest of a step (attention, norms,
// sampling) is left out, so sabre-generate's decode rate against this one says what the rest costs, and
// the bytes read per step over the time against sabre-bench-memory says how close the kernels come to the
// memory's speed.
//
//   sabre-bench-linear --model FILE.gguf [--threads K] [--rows R] [--steps N] [--rounds M] [--exact-kernels]
//
// Prints, for the best and the median of M rounds of N steps, the time per step, the weight bytes read
// per second, and each kind of matrix's share of the time (from the median round).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_file.hpp"

namespace {

using namespace sabre;

struct Options {
  std::string model;
  unsigned threads = std::thread::hardware_concurrency();
  int64_t rows = 1;
  int steps = 64;
  int rounds = 5;
  bool exact_kernels = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--rows") o.rows = std::stoll(value());
    else if (arg == "--steps") o.steps = std::stoi(value());
    else if (arg == "--rounds") o.rounds = std::stoi(value());
    else if (arg == "--exact-kernels") o.exact_kernels = true;
    else {
      throw std::invalid_argument(fmt::format(
          "unknown option '{}' (usage: sabre-bench-linear --model FILE.gguf [--threads K] [--rows R] [--steps N] "
          "[--rounds M] [--exact-kernels])",
          arg));
    }
  }
  if (o.model.empty()) throw std::invalid_argument("--model FILE.gguf is required");
  if (o.threads < 1 || o.rows < 1 || o.steps < 1 || o.rounds < 1) {
    throw std::invalid_argument("--threads, --rows, --steps and --rounds must be at least 1");
  }
  return o;
}

// One matrix of the step: its rows (several GGUF tensors of one type stacked) and what it is.
struct Matrix {
  std::string kind;
  ElementType type = ElementType::f32;
  int64_t in = 0;
  int64_t out = 0;
  std::vector<std::byte> bytes;
};

ElementType element_type_of(const GgufTensorInfo& tensor) {
  if (tensor.raw_type == 0) return ElementType::f32;
  if (const auto type = ggml_element_type(tensor.raw_type)) return *type;
  throw std::runtime_error(fmt::format("tensor '{}' has a ggml type ({}) this benchmark does not read", tensor.name,
                                       tensor.raw_type));
}

// The named tensors stacked along the outputs; empty when the first is absent. Parts of another type
// stay matrices of their own (the loader keeps them so, each writing its columns of the output).
std::vector<Matrix> stacked(const GgufFile& file, const std::string& kind, const std::vector<std::string>& names) {
  std::vector<Matrix> parts;
  for (const auto& name : names) {
    const GgufTensorInfo* tensor = file.find_tensor(name);
    if (tensor == nullptr) {
      if (parts.empty()) return {};
      throw std::runtime_error(fmt::format("tensor '{}' is missing", name));
    }
    const auto shape = tensor->torch_shape();
    const ElementType type = element_type_of(*tensor);
    if (parts.empty() || parts.back().type != type || parts.back().in != shape[1]) {
      parts.push_back(Matrix{kind, type, shape[1], 0, {}});
    }
    Matrix& m = parts.back();
    m.out += shape[0];
    m.bytes.insert(m.bytes.end(), tensor->bytes.begin(), tensor->bytes.end());
  }
  return parts;
}

std::vector<Matrix> step_matrices(const GgufFile& file) {
  std::vector<Matrix> matrices;
  const auto add = [&](std::vector<Matrix> m) { matrices.insert(matrices.end(), m.begin(), m.end()); };
  for (int layer = 0;; ++layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    auto qkv = stacked(file, "qkv", {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"});
    if (qkv.empty()) break;
    add(std::move(qkv));
    add(stacked(file, "o", {p + "attn_output.weight"}));
    add(stacked(file, "gate_up", {p + "ffn_gate.weight", p + "ffn_up.weight"}));
    add(stacked(file, "down", {p + "ffn_down.weight"}));
  }
  auto head = stacked(file, "lm_head", {"output.weight"});
  if (head.empty()) head = stacked(file, "lm_head", {"token_embd.weight"});
  add(std::move(head));
  if (matrices.size() < 2) throw std::runtime_error("no blk.N.attn_q.weight tensors: not a Llama/Qwen GGUF");
  return matrices;
}

struct Round {
  double seconds = 0;
  std::map<std::string, double> by_kind;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const auto file = GgufFile::open(o.model);
    const std::vector<Matrix> matrices = step_matrices(file);
    CpuBackend backend(CpuBackendOptions{.threads = o.threads, .exact_kernels = o.exact_kernels});
    int64_t widest_in = 0, widest_out = 0;
    size_t step_bytes = 0;
    for (const auto& m : matrices) {
      widest_in = std::max(widest_in, m.in);
      widest_out = std::max(widest_out, m.out);
      step_bytes += m.bytes.size();
    }
    std::vector<float> x(static_cast<size_t>(o.rows * widest_in));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(o.rows * widest_out));
    const auto run_step = [&](std::map<std::string, double>* by_kind) {
      for (const auto& m : matrices) {
        const LinearWeight w{m.bytes.data(), nullptr, m.out, m.in, m.type};
        const auto start = std::chrono::steady_clock::now();
        backend.linear(x.data(), o.rows, w, y.data());
        if (by_kind) (*by_kind)[m.kind] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    };
    run_step(nullptr);  // pages in the copies
    std::vector<Round> rounds(static_cast<size_t>(o.rounds));
    for (auto& round : rounds) {
      const auto start = std::chrono::steady_clock::now();
      for (int s = 0; s < o.steps; ++s) run_step(&round.by_kind);
      round.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / o.steps;
    }
    std::sort(rounds.begin(), rounds.end(), [](const Round& a, const Round& b) { return a.seconds < b.seconds; });
    const Round& best = rounds.front();
    const Round& median = rounds[rounds.size() / 2];
    const auto gib_per_s = [&](double seconds) { return static_cast<double>(step_bytes) / (1 << 30) / seconds; };
    std::cout << fmt::format(
        "sabre-bench-linear: {} ({} matrices, {:.1f} MiB per step), {} rows, {} threads, {} kernels, {} rounds of {} "
        "steps\n",
        o.model, matrices.size(), static_cast<double>(step_bytes) / (1 << 20), o.rows, o.threads,
        o.exact_kernels ? "exact" : "default", o.rounds, o.steps);
    std::cout << fmt::format("  best   {:.3f} ms per step ({:.1f} steps/s), {:.2f} GiB/s of weights\n",
                             best.seconds * 1e3, 1 / best.seconds, gib_per_s(best.seconds));
    std::cout << fmt::format("  median {:.3f} ms per step ({:.1f} steps/s), {:.2f} GiB/s of weights\n",
                             median.seconds * 1e3, 1 / median.seconds, gib_per_s(median.seconds));
    double timed = 0;
    for (const auto& [kind, seconds] : median.by_kind) timed += seconds;
    for (const auto& [kind, seconds] : median.by_kind) {
      size_t bytes = 0;
      std::string type;
      for (const auto& m : matrices) {
        if (m.kind != kind) continue;
        bytes += m.bytes.size();
        const std::string name(element_type_name(m.type));
        if (type.find(name) == std::string::npos) type += (type.empty() ? "" : "+") + name;
      }
      std::cout << fmt::format("  {:8} {:11} {:5.1f}% of the time, {:5.1f}% of the bytes, {:.2f} GiB/s\n", kind, type,
                               100 * seconds / timed, 100.0 * static_cast<double>(bytes) / static_cast<double>(step_bytes),
                               static_cast<double>(bytes) * o.steps / (1 << 30) / seconds);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sabre-bench-linear: " << e.what() << "\n";
    return 2;
  }
}
