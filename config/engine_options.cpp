#include "config/engine_options.hpp"

namespace sabre {

std::string_view gguf_weights_name(GgufWeights mode) { return mode == GgufWeights::quantized ? "quantized" : "f32"; }

}  // namespace sabre
