// A process-wide cap on whole-file mappings, in files and in bytes, like
// LevelDB's mmap limiter. Each mapping takes address space and entries of
// vm.max_map_count, and an engine that keeps several models loaded can
// exhaust either; past the cap a file is read into memory instead, and the
// loader logs why (see MappedFile::map).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace wm {

struct MmapLimits {
  uint64_t max_files = 1000;  // LevelDB's figure: far below vm.max_map_count (65530)
  uint64_t max_bytes = 0;     // 0: no limit
};

struct MmapUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

MmapLimits mmap_limits();
// Applies to mappings made from now on; existing ones stay.
void set_mmap_limits(const MmapLimits& limits);
MmapUsage mmap_usage();

// The limits from WEIGHTMAP_MAX_MAPPED_FILES and WEIGHTMAP_MAX_MAPPED_BYTES
// (a size: "24G", "512M", bytes; 0 = no limit) over `base`; an unreadable
// value is an error naming the variable.
Result<MmapLimits> mmap_limits_from_env(MmapLimits base);

// One mapping's share of the limits; returned when destroyed.
class MmapPermit {
 public:
  MmapPermit() = default;
  MmapPermit(MmapPermit&& other) noexcept : bytes_(other.bytes_), held_(other.held_) { other.held_ = false; }
  MmapPermit& operator=(MmapPermit&& other) noexcept;
  MmapPermit(const MmapPermit&) = delete;
  MmapPermit& operator=(const MmapPermit&) = delete;
  ~MmapPermit() { give_back(); }

  // A permit for one mapping of `bytes`, or an error saying which limit it
  // would pass and what is mapped now.
  static Result<MmapPermit> acquire(uint64_t bytes);

 private:
  explicit MmapPermit(uint64_t bytes) : bytes_(bytes), held_(true) {}
  void give_back();
  uint64_t bytes_ = 0;
  bool held_ = false;
};

}  // namespace wm
