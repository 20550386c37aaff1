// Executes a plan: maps what can be used in place, and streams everything
// else through a bounded pool of workers sharing one staging budget, reading
// with pread, converting per chunk, uploading to devices through their copy
// queues while the next chunks are read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/log.h"
#include "load/model.h"
#include "plan/load_plan.h"

namespace wm {

struct LoadOptions {
  PlanOptions plan;
  unsigned threads = 2;
  uint64_t staging_bytes = 64ull << 20;
  Logger log;
  // Called from the loading thread about every 100 ms with source bytes done.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// The devices a model can be planned onto: "cpu" (the default, index 0) and
// "sim".
std::vector<DeviceCaps> available_devices();

// Loads the tensors of `table` (from open_model) as `options` say. The
// report's time.parse_ms is left for the caller, who did the parsing.
Result<Model> load_model(TensorTable table, const LoadOptions& options);

}  // namespace wm
