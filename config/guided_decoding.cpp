#include "config/guided_decoding.hpp"

namespace sabre {

std::string_view guided_kind_name(GuidedKind kind) {
  switch (kind) {
    case GuidedKind::none: return "none";
    case GuidedKind::json_schema: return "json_schema";
    case GuidedKind::json_object: return "json_object";
    case GuidedKind::regex: return "regex";
    case GuidedKind::choice: return "choice";
    case GuidedKind::grammar: return "grammar";
  }
  return "unknown";
}

}  // namespace sabre
