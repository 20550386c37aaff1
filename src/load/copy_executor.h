// Executes the copy part of a plan: every tensor not mapped is split into
// chunks that fit one staging slot, and a bounded pool of workers reads
// each chunk (load/tensor_source.h), converts it when the plan says so, and
// writes it into host memory or uploads it to its device through the
// device's copy queue while the next chunks are read. The first error stops
// the workers; every upload has finished (or failed) before run returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "format/tensor_table.h"
#include "io/file.h"
#include "load/tensor_placement.h"
#include "weightmap/device.hpp"
#include "weightmap/options.hpp"
#include "weightmap/tensor.hpp"

namespace wm {

// What the copies work on. All of it outlives the call.
struct CopyTargets {
  const TensorTable* table = nullptr;
  const std::vector<std::shared_ptr<const File>>* files = nullptr;  // per table file
  const PlacedTensors* placed = nullptr;
  const std::vector<std::shared_ptr<Device>>* devices = nullptr;
};

struct CopyOptions {
  unsigned threads = 2;
  uint64_t staging_bytes = 64ull << 20;
  IoMode io = IoMode::kRead;
  uint64_t cache_window_bytes = 0;
  Logger log;
  // Called from the calling thread about every 100 ms with source bytes done.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The copy phase's part of the LoadReport.
struct CopyReport {
  std::string io_mode;
  uint64_t cache_window_bytes = 0;
  uint64_t cache_dropped_bytes = 0;
  unsigned threads = 0;
  uint64_t staging_budget_bytes = 0;
  uint64_t staging_peak_bytes = 0;
  uint64_t staging_device_bytes = 0;
  double read_ms = 0, convert_ms = 0, upload_ms = 0;
};

// Fills every non-mapped tensor of `targets`. Errors name the file, the
// tensor and the offset.
Result<CopyReport> run_copies(const CopyTargets& targets, const CopyOptions& options);

}  // namespace wm
