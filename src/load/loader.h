// Loads a model: plans it (plan/), then runs the phases in order, each in
// its own file with its own part of the report: the model's files
// (load/model_files.h: open, check, lock, map), the memory limit
// (load/memory_limit.h), placement (load/tensor_placement.h), page-cache
// hints (load/apply_hints.h), the copies (load/copy_executor.h: a bounded
// pool of workers sharing one staging budget, converting per chunk,
// uploading while the next chunks are read) and pinning (load/memory_pin.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/log.h"
#include "io/mmap_hints.h"
#include "load/apply_hints.h"
#include "load/loaded_model.h"
#include "weightmap/device.hpp"
#include "weightmap/options.hpp"
#include "plan/load_plan.h"

namespace wm {

struct LoadOptions {
  PlanOptions plan;
  // Tensor-parallel slices, cut before the plan (shard/shard_table.h).
  ShardOptions shard;
  unsigned threads = 2;
  uint64_t staging_bytes = 64ull << 20;
  // Page-cache hints for the mapped files (see io/mmap_hints.h); auto by
  // default. resolve_mmap_hints() applies WEIGHTMAP_MMAP_HINTS.
  MmapHints hints = MmapHints::automatic();
  PrefetchMode prefetch = PrefetchMode::kBackground;
  unsigned prefetch_workers = 1;  // prefetch streams (see PrefetchOptions)
  IoMode io = IoMode::kRead;      // how the copy path reads
  // Copy path: drop source ranges from the page cache once consumed, so the
  // cache held stays under this many bytes (0: keep everything cached).
  uint64_t cache_window_bytes = 0;
  // Fail before allocating when RssAnon now plus what this load needs in
  // anonymous memory (copies, device buffers, staging) would exceed this
  // (0: no limit). Mapped tensors need none: their pages are page cache.
  uint64_t max_memory_bytes = 0;
  // Hold a read lease (else a shared flock) on every file while loaded: a
  // writer is held off, and LoadedModel::check_files() tells (io/file_lock.h).
  bool lock_files = false;
  // Pin the model in memory: mapped pages as they are read (mlock2
  // MLOCK_ONFAULT), copies at once. A refusal (RLIMIT_MEMLOCK) is logged and
  // reported, not fatal.
  bool mlock = false;
  // The engine's devices, after the built-in "cpu" (index 0) and "sim" (1).
  std::vector<std::shared_ptr<Device>> devices;
  // Time the caller spent parsing the headers, for the report.
  double parse_ms = 0;
  Logger log;
  // Called from the loading thread about every 100 ms with source bytes done.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The devices a model can be planned onto: "cpu" (the default, index 0),
// "sim", then `extra` (whose names must be unique and not those two).
Result<std::vector<std::shared_ptr<Device>>> make_devices(const std::vector<std::shared_ptr<Device>>& extra);
std::vector<DeviceCaps> device_caps_of(const std::vector<std::shared_ptr<Device>>& devices);

// Anonymous memory a load of `table` with `options` would take: host
// copies and conversions, simulated device buffers, and the staging budget.
Result<uint64_t> anon_bytes_needed(TensorTable table, const LoadOptions& options);

// Loads the tensors of `table` (from open_model) as `options` say. The
// report's time.parse_ms is left for the caller, who did the parsing.
Result<LoadedModel> load_model(TensorTable table, const LoadOptions& options);

}  // namespace wm
