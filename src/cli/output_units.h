// The small conversions every command's output shares, written once:
// bytes as MiB, a 64-bit checksum as 16 hex digits, milliseconds between
// two instants.
#pragma once

#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <string>

namespace wm::cli {

inline double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

inline std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }

using Clock = std::chrono::steady_clock;
inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}
inline double ms_since(Clock::time_point from) { return ms_between(from, Clock::now()); }

}  // namespace wm::cli
