#pragma once
// Finds a request's stop strings in its streamed text. The incremental decoder hands out text deltas
// token by token, and a stop string may span any number of them, so text that could be the start of a
// stop string is held back until the next deltas show whether it is one. Nothing returned ever contains
// (or has to be taken back because of) a stop string: the client sees exactly the text before the first
// stop string, or everything when none occurs.
//
// The first stop string to START in the text wins (ties: the one listed first), which is where a
// complete generation would be cut. CAF-free so that the scheduler's tests can use it directly.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

struct StopMatch {
  std::string text;                  // safe to emit now
  std::optional<size_t> stop_index;  // index into the stop strings when one matched (generation ends)
};

class StopMatcher {
 public:
  // Throws std::invalid_argument for an empty stop string (it would match before any text).
  // `include_stop_str_in_output`: on a match, the returned text ends with the stop string itself.
  explicit StopMatcher(std::vector<std::string> stop_strings, bool include_stop_str_in_output = false);

  // Adds a delta of generated text; returns what can be emitted and whether a stop string matched.
  // Throws std::logic_error when called after a match (generation should have ended).
  StopMatch push(std::string_view delta);
  // The held-back text, at the end of generation without a match (empty after a match).
  std::string flush();

  bool stopped() const { return stopped_; }
  const std::vector<std::string>& stop_strings() const { return stop_strings_; }

 private:
  size_t hold_back_length() const;

  std::vector<std::string> stop_strings_;
  bool include_stop_str_;
  std::string held_;  // text not yet emitted: a possible start of a stop string or an unfinished character
  bool stopped_ = false;
};

}  // namespace sabre
