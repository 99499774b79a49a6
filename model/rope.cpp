#include "model/rope.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sabre {
namespace {

// transformers: 1 / base ** (arange(0, dim, 2).float() / dim), evaluated in fp32.
std::vector<float> default_inv_freq(double base, int64_t dim) {
  std::vector<float> inv_freq(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv_freq[static_cast<size_t>(i)] = 1.0f / std::pow(static_cast<float>(base), exponent);
  }
  return inv_freq;
}

// Llama 3.1: leaves high frequencies alone, divides low ones by `factor`, blends in between.
void apply_llama3(std::vector<float>& inv_freq, const RopeScaling& s) {
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (float& f : inv_freq) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    if (wavelen > low_freq_wavelen) {
      f = static_cast<float>(f / s.factor);
    } else if (wavelen >= high_freq_wavelen) {
      const float smooth = static_cast<float>((old_context / wavelen - s.low_freq_factor) /
                                              (s.high_freq_factor - s.low_freq_factor));
      f = (1.0f - smooth) * static_cast<float>(f / s.factor) + smooth * f;
    }
  }
}

// YaRN: interpolate low frequencies, extrapolate high ones, with a linear ramp between the dimensions
// that complete beta_fast and beta_slow rotations over the original context.
RopeFrequencies yarn(const ModelConfig& config) {
  const RopeScaling& s = config.rope_scaling;
  const double base = config.rope_theta;
  const int64_t dim = config.head_dim;
  const double original = static_cast<double>(s.original_max_position_embeddings > 0
                                                  ? s.original_max_position_embeddings
                                                  : config.max_position_embeddings);
  auto mscale = [](double scale) { return scale <= 1 ? 1.0 : 0.1 * std::log(scale) + 1.0; };
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original / (rotations * 2 * std::numbers::pi))) /
           (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast);
  double high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;

  RopeFrequencies result;
  result.attention_scaling = static_cast<float>(s.attention_factor.value_or(mscale(s.factor)));
  result.inv_freq.resize(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    const float pos_freq = std::pow(static_cast<float>(base), exponent);
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (static_cast<float>(s.factor) * pos_freq);
    const float ramp = std::clamp(static_cast<float>((static_cast<double>(i) - low) / (high - low)), 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    result.inv_freq[static_cast<size_t>(i)] =
        interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return result;
}

}  // namespace

bool rope_depends_on_length(const ModelConfig& config) {
  return config.rope_scaling.type == RopeScalingType::dynamic;
}

RopeFrequencies rope_frequencies(const ModelConfig& config, int64_t sequence_length) {
  const RopeScaling& s = config.rope_scaling;
  RopeFrequencies result;
  switch (s.type) {
    case RopeScalingType::none:
      result.inv_freq = default_inv_freq(config.rope_theta, config.head_dim);
      break;
    case RopeScalingType::linear:
      result.inv_freq = default_inv_freq(config.rope_theta, config.head_dim);
      for (float& f : result.inv_freq) f = static_cast<float>(f / s.factor);
      break;
    case RopeScalingType::llama3:
      result.inv_freq = default_inv_freq(config.rope_theta, config.head_dim);
      apply_llama3(result.inv_freq, s);
      break;
    case RopeScalingType::dynamic: {
      // transformers measures against max_position_embeddings and never shrinks below it.
      const double max_positions = static_cast<double>(config.max_position_embeddings);
      const double length = std::max(static_cast<double>(sequence_length), max_positions);
      const double dim = static_cast<double>(config.head_dim);
      const double base =
          config.rope_theta * std::pow(s.factor * length / max_positions - (s.factor - 1), dim / (dim - 2));
      result.inv_freq = default_inv_freq(base, config.head_dim);
      break;
    }
    case RopeScalingType::yarn:
      return yarn(config);
  }
  return result;
}

}  // namespace sabre
