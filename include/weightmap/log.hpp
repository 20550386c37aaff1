// weightmap never writes to a stream: it reports through a callback the
// engine installs (level, message). The callback may be called from any of
// the loader's threads, so it must be thread-safe.
#pragma once

#include <functional>
#include <string_view>
#include <utility>

#include "weightmap/export.hpp"

namespace wm {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
WM_API const char* to_string(LogLevel level);

using LogCallback = std::function<void(LogLevel, std::string_view message)>;

// A possibly empty callback with convenience calls; cheap to copy.
class Logger {
 public:
  Logger() = default;
  explicit Logger(LogCallback cb) : cb_(std::move(cb)) {}
  void log(LogLevel level, std::string_view message) const {
    if (cb_) cb_(level, message);
  }
  void info(std::string_view m) const { log(LogLevel::kInfo, m); }
  void warn(std::string_view m) const { log(LogLevel::kWarn, m); }
  void debug(std::string_view m) const { log(LogLevel::kDebug, m); }
  bool enabled() const { return static_cast<bool>(cb_); }

 private:
  LogCallback cb_;
};

}  // namespace wm
