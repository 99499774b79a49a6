#include "model/draft_model.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "model/checkpoint.hpp"

namespace sabre {

std::unique_ptr<Transformer> load_draft_model(const std::filesystem::path& path, const WeightOptions& weights,
                                              int64_t target_vocab, Backend& backend, StepLimits limits) {
  try {
    Checkpoint checkpoint = open_checkpoint(path, weights.load_format);
    if (checkpoint.config.vocab_size != target_vocab) {
      throw std::runtime_error(fmt::format("its vocabulary has {} tokens and the target's {}: a draft must share the "
                                           "target's vocabulary",
                                           checkpoint.config.vocab_size, target_vocab));
    }
    return std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, backend, limits, weights);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("draft model {}: {}", path.string(), e.what()));
  }
}

}  // namespace sabre
