// Turns the requested MmapHints into actions on a load's mappings and
// descriptors, and says what was done. `auto` measures residency first
// (sampled mincore over the mapped tensor data): warm files get no hints at
// all (hints cost a warm load 10-20%), cold or partly cold ones get a
// parallel prefetch of the tensors not yet in the cache, in use order.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "format/tensor_table.h"
#include "io/mapped_file.h"
#include "io/mmap_hints.h"
#include "io/prefetch.h"
#include "weightmap/options.hpp"

namespace wm {


struct HintInputs {
  const TensorTable* table = nullptr;
  const std::vector<std::unique_ptr<MappedFile>>* mappings = nullptr;  // per file, null when not mapped
  const std::vector<std::shared_ptr<const File>>* files = nullptr;
  std::vector<size_t> mapped_tensors;  // indices of mapped tensors, in use order
  MmapHints hints;
  PrefetchMode prefetch = PrefetchMode::kBackground;
  unsigned prefetch_workers = 1;
  Logger log;
};

struct HintOutcome {
  std::string applied;               // what was done, e.g. "populate (auto: 3.1% resident)"
  double residency_before = -1;      // sampled fraction of mapped tensor bytes cached; -1 if not measured
  bool evict_on_release = false;     // "dontneed"
  std::unique_ptr<Prefetcher> prefetcher;
  std::vector<size_t> span_of_tensor;  // per table tensor: its index in the prefetcher, or SIZE_MAX
};

Result<HintOutcome> apply_hints(HintInputs in);

}  // namespace wm
