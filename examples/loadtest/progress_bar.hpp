#pragma once
// A one-line progress bar on stderr, redrawn in place ('\r') at most ten times a second, and always for
// the last request so the final line is exact.

#include <chrono>
#include <cstddef>
#include <string>

namespace sabre::loadtest {

class ProgressBar {
 public:
  explicit ProgressBar(size_t total);
  void update(size_t done, size_t failed);

  // The line for a given state, without '\r'; width is the bar's number of cells.
  static std::string render(size_t done, size_t failed, size_t total, double elapsed_s, size_t width = 30);

 private:
  size_t total_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sabre::loadtest
