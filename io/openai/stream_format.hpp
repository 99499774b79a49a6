#pragma once
// The two formats a streamed response can take (--stream-format; StreamStyle in response_common.hpp
// writes them). By default chat streams are `openai` and completion streams `bladellm`, the seed's
// format (DESIGN.md); the flag makes both endpoints one format.

#include <optional>
#include <string_view>

namespace sabre::openai {

enum class StreamFormat { openai, bladellm };

// "openai" or "bladellm"; nullopt for anything else.
inline std::optional<StreamFormat> parse_stream_format(std::string_view name) {
  if (name == "openai") return StreamFormat::openai;
  if (name == "bladellm") return StreamFormat::bladellm;
  return std::nullopt;
}

}  // namespace sabre::openai
