#include "progress_bar.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace sabre::loadtest {

ProgressBar::ProgressBar(size_t total)
    : total_(total), start_(std::chrono::steady_clock::now()), last_draw_(start_ - std::chrono::seconds(1)) {}

std::string ProgressBar::render(size_t done, size_t failed, size_t total, double elapsed_s, size_t width) {
  const size_t filled = total == 0 ? width : done * width / total;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  return fmt::format("[{}] {}/{} done, {} failed, {:.1f} s", bar, done, total, failed, elapsed_s);
}

void ProgressBar::update(size_t done, size_t failed) {
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  fmt::print(stderr, "\r{}{}", render(done, failed, total_, elapsed), done == total_ ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace sabre::loadtest
