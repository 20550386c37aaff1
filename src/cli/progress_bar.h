// A progress bar on stderr, shown only when stderr is a terminal and the
// work has run for more than a second; it erases itself when done.
#pragma once

#include <chrono>
#include <cstdint>

namespace wm::cli {

class ProgressBar {
 public:
  explicit ProgressBar(const char* label);
  ~ProgressBar();
  void update(uint64_t done, uint64_t total);

 private:
  const char* label_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace wm::cli
