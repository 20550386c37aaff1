// The page cache of model files, as an engine managing memory needs it:
// how much of each file (and each tensor) is cached, drop files from the
// cache before loading the next component, or read them in ahead of use.
// Works on paths, with or without a loaded Model (like fincore/vmtouch).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightmap/error.hpp"
#include "weightmap/export.hpp"
#include "weightmap/log.hpp"

namespace wm {

enum class CacheAction {
  kStatus,  // only measure
  kEvict,   // drop the files' clean pages from the page cache, then measure
  kWarm,    // read the files in (parallel prefetch through a mapping), then measure
};
WM_API const char* cache_action_name(CacheAction a);  // "status", "evict", "warm"
WM_API std::optional<CacheAction> cache_action_from_name(std::string_view name);

struct CachedRange {
  std::string tensor;  // qualified name
  uint64_t offset = 0, nbytes = 0, resident_bytes = 0;
};

struct CachedFile {
  std::string path;
  uint64_t bytes = 0;
  uint64_t resident_bytes = 0;  // exact (mincore), after the action
  double seconds = 0;           // kWarm: time to read it in
  std::vector<CachedRange> tensors;  // with CacheOptions::per_tensor
};

struct CacheOptions {
  bool per_tensor = false;  // also each tensor's range (paths that parse as models)
  unsigned workers = 1;     // kWarm: prefetch streams
  LogCallback log;
};

// Each file behind `paths` (a model path may stand for several files; a
// path that is not a model is taken as a plain file).
WM_API Result<std::vector<CachedFile>> page_cache(CacheAction action, const std::vector<std::string>& paths,
                                                  const CacheOptions& options = {});

}  // namespace wm
