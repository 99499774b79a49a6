#include "actors/stop_matcher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sabre {

namespace {

// Bytes at the end of `text` that start a UTF-8 character not yet complete. Deltas from the incremental
// decoder are whole characters, but holding an unfinished one back costs nothing and keeps every
// emitted piece valid UTF-8 even if a caller feeds raw byte chunks.
size_t unfinished_utf8_tail(std::string_view text) {
  const size_t look = std::min<size_t>(text.size(), 3);
  for (size_t back = 1; back <= look; ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  return 0;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stop_strings, bool include_stop_str_in_output)
    : stop_strings_(std::move(stop_strings)), include_stop_str_(include_stop_str_in_output) {
  for (size_t i = 0; i < stop_strings_.size(); ++i) {
    if (stop_strings_[i].empty()) {
      throw std::invalid_argument(fmt::format("stop strings: entry {} is empty", i));
    }
  }
}

size_t StopMatcher::hold_back_length() const {
  // The longest suffix of the held text that is a proper prefix of some stop string. (A whole stop
  // string would already have matched.) Held text is at most one stop string long plus one delta.
  size_t hold = 0;
  for (const auto& stop : stop_strings_) {
    const size_t longest = std::min(stop.size() - 1, held_.size());
    for (size_t length = longest; length > hold; --length) {
      if (std::string_view(held_).substr(held_.size() - length) == std::string_view(stop).substr(0, length)) {
        hold = length;
        break;
      }
    }
  }
  return std::max(hold, unfinished_utf8_tail(held_));
}

StopMatch StopMatcher::push(std::string_view delta) {
  if (stopped_) throw std::logic_error("StopMatcher::push after a stop string matched");
  held_.append(delta);

  // Every earlier position was ruled out as a stop string's start when it was emitted, so a match
  // can only start inside the held text.
  size_t best_position = std::string::npos;
  size_t best_index = 0;
  for (size_t i = 0; i < stop_strings_.size(); ++i) {
    const size_t position = held_.find(stop_strings_[i]);
    if (position < best_position) {
      best_position = position;
      best_index = i;
    }
  }
  StopMatch result;
  if (best_position != std::string::npos) {
    const size_t end = best_position + (include_stop_str_ ? stop_strings_[best_index].size() : 0);
    result.text = held_.substr(0, end);
    result.stop_index = best_index;
    held_.clear();
    stopped_ = true;
    return result;
  }
  const size_t emit = held_.size() - hold_back_length();
  result.text = held_.substr(0, emit);
  held_.erase(0, emit);
  return result;
}

std::string StopMatcher::flush() {
  std::string rest = std::move(held_);
  held_.clear();
  return rest;
}

}  // namespace sabre
