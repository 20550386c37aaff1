// The library never writes to a stream: it reports through this callback,
// which the embedding engine (or the CLI) installs.
#pragma once

#include <functional>
#include <string_view>

namespace wm {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogCallback = std::function<void(LogLevel, std::string_view message)>;

// A possibly empty callback with a convenience call; cheap to copy.
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

 private:
  LogCallback cb_;
};

const char* to_string(LogLevel level);

}  // namespace wm
