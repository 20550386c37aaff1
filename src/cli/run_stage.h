// One stage of `weightmap run`: load a model (or one pipeline component),
// use every weight once (the compute pass), release it (and evict its
// files when asked), and record what it cost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace wm::cli {

struct StageResult {
  std::string name;                 // component, or the paths
  uint64_t file_bytes = 0;
  uint64_t tensors = 0, mapped = 0, copied = 0, converted = 0;
  double parse_ms = 0;
  double load_ms = 0;               // parse + load_model
  double pass_ms = 0;               // the compute pass (waits on a background prefetch)
  double ttfr_ms = 0;               // process start to every weight of this stage used once
  uint64_t checksum = 0;
  std::string simd;
  std::string hints_applied;
  double residency_before = -1;
  std::string io_mode;
  double prefetch_ms = 0;           // background prefetch, start to done
  uint64_t peak_rss_kib = 0;        // VmHWM after the pass (process-wide, monotonic)
  uint64_t anon_kib = 0;            // RssAnon after the pass
  uint64_t anon_kib_released = 0;   // RssAnon after release
  uint64_t page_cache_after_pass = 0;
  uint64_t page_cache_after_release = 0;
  bool evicted = false;
};

struct StageOptions {
  bool evict = false;
  unsigned compute_threads = 2;
};

// Opens `model_paths` (only `components`, when given) through wm::open.
Result<StageResult> run_stage(const std::vector<std::string>& model_paths, const std::vector<std::string>& components,
                              std::string name, const LoadArgs& args, const StageOptions& options, const Context& ctx,
                              bool progress);

}  // namespace wm::cli
