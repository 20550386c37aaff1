#include "cli/progress_bar.h"

#include <cstdio>
#include <fmt/format.h>

#include "cli/output_units.h"
#include "io/terminal.h"

namespace wm::cli {

ProgressBar::ProgressBar(const char* label)
    : label_(label), tty_(stderr_is_terminal()), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (shown_) fmt::print(stderr, "\r\033[K");
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!tty_ || total == 0) return;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (secs < 1.0) return;
  shown_ = true;
  constexpr int kWidth = 30;
  double frac = static_cast<double>(done) / static_cast<double>(total);
  int filled = static_cast<int>(frac * kWidth);
  fmt::print(stderr, "\r{} [{:=<{}}{: <{}}] {:5.1f}%  {:.0f} MiB/s", label_, "", filled, "", kWidth - filled,
             frac * 100, mib(done) / secs);
  std::fflush(stderr);
}

}  // namespace wm::cli
