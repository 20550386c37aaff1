// Bounds the page cache a copy-path load leaves behind: source ranges
// already consumed are dropped (POSIX_FADV_DONTNEED) as the load goes, so
// the model's files never hold more than about `window_bytes` of cache
// (plus the reads in flight and the kernel's read-ahead). For 30 GB
// loaded into memory on a 32 GB machine, that keeps the kernel from having
// to reclaim cache under pressure, or from evicting everything else.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "common/error.h"
#include "io/file.h"
#include "io/residency.h"

namespace wm {

class CacheWindow {
 public:
  // window_bytes 0: never drop anything.
  explicit CacheWindow(uint64_t window_bytes) : window_(window_bytes) {}

  bool enabled() const { return window_ > 0; }
  // Records [offset, offset + len) of `file` as consumed; once half the
  // window is consumed, drops every consumed range.
  void consumed(const File& file, uint64_t offset, uint64_t len);
  // Drops whatever is still recorded (end of the load).
  void flush();
  uint64_t dropped_bytes() const;
  // Dropping cache can fail without harming the load (the kernel reclaims
  // it later anyway): the first failure, for the loader to log.
  std::optional<Error> first_error() const;

 private:
  struct Range {
    const File* file;
    uint64_t offset, len;
  };
  void drop_locked(bool final);
  static constexpr uint64_t kFolio = 2ull << 20;

  const uint64_t window_;
  mutable std::mutex mu_;
  std::vector<Range> pending_;
  uint64_t pending_bytes_ = 0;
  uint64_t dropped_ = 0;
  std::optional<Error> error_;
};

}  // namespace wm
