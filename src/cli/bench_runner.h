// `weightmap bench` measurements: each strategy runs `weightmap run` in a
// fresh child process (so no cache, mapping or allocator state carries
// over), cold (files evicted and checked) or warm (read once before), and
// the limits the results are judged against are measured on the same files
// in the same invocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"

namespace wm::cli {

struct Strategy {
  std::string name;               // mmap, mmap-prefetch, auto, read, direct, uring
  std::vector<std::string> args;  // for `weightmap run`
  bool mapped = true;             // judged against memory bandwidth when warm
};
const std::vector<Strategy>& bench_strategies();

struct Limits {
  double direct_read_gbps = 0;  // O_DIRECT, 1 MiB blocks, 4 in flight: the cold bound
  double memory_read_gbps = 0;  // warm bound for mapped strategies
  double fresh_write_gbps = 0;  // first touch of new memory: warm bound for copies
};

struct Sample {
  double load_ms = 0, ttfr_ms = 0;
  uint64_t checksum = 0;
  uint64_t peak_rss_kib = 0, anon_kib = 0;
  uint64_t page_cache_bytes = 0;  // model files cached after the child exited
  double residency_before = 0;    // checked just before the child started
};

struct BenchResult {
  std::string strategy;
  bool cold = false;
  Sample median;  // per field, the median over runs (checksum: the first run's)
  bool checksums_agree = true;  // across this strategy's runs
  double bound_ms = 0;
};

struct BenchOptions {
  std::vector<std::string> paths;
  std::vector<std::string> strategies;  // empty: all
  bool cold = true, warm = true;
  int runs = 3;
  unsigned threads = 2;
  std::string self;  // this executable
  Logger log;
};

struct BenchReport {
  uint64_t file_bytes = 0;
  Limits limits;
  std::vector<BenchResult> results;
};

Result<BenchReport> run_bench(const BenchOptions& options);

}  // namespace wm::cli
