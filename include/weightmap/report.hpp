// What a load did, as a value: tensors and bytes by path, time per phase,
// memory, page cache, and the options that decided them.
#pragma once

#include <cstdint>
#include <string>

namespace wm {

// This process's memory as the kernel counts it (Linux /proc/self/status).
struct ProcessMemory {
  uint64_t peak_rss_kib = 0;  // VmHWM
  uint64_t rss_kib = 0;       // VmRSS
  uint64_t anon_kib = 0;      // RssAnon: copies the loader made
  uint64_t file_kib = 0;      // RssFile: mapped model bytes (page cache)
};

struct PhaseTimes {
  double parse_ms = 0;    // reading and validating the headers
  double plan_ms = 0;
  double map_ms = 0;
  double read_ms = 0;     // summed over workers
  double convert_ms = 0;  // summed over workers
  double upload_ms = 0;   // on the devices' copy queues
  double hints_ms = 0;    // residency check and hints (and the prefetch, when waited for)
  double total_ms = 0;    // wall, plan to model ready
  // What a user waits for: parsing the headers, then the load.
  double end_to_end_ms() const { return parse_ms + total_ms; }
};

// Options::shard: what this rank took.
struct ShardReport {
  uint32_t rank = 0, world = 1;
  std::string rules;               // as given, presets expanded
  std::string source;              // ShardOptions::source, as given
  uint64_t tensors_rows = 0, tensors_cols = 0, tensors_replicated = 0;
  uint64_t bytes = 0;              // this rank's tensor bytes (source dtype, padding included)
  uint64_t full_bytes = 0;         // the whole model's tensor bytes
  // With world > 1: "shared" or "exchange" (ShardMode), and why.
  std::string mode;
  std::string mode_reason;
  // Exchange only: bytes this rank read from its files (its 1/world), sent
  // to and received from the other ranks, and written into its staged copy
  // (its slices' bytes: from its own reads and from the other ranks).
  uint64_t exchange_read_bytes = 0;
  uint64_t exchange_sent_bytes = 0, exchange_received_bytes = 0;
  uint64_t staged_bytes = 0;
  uint64_t exchange_rounds = 0;
  std::string staging_dir;         // where the staged copies are (unlinked)
};

struct LoadReport {
  uint64_t tensors = 0;
  uint64_t tensors_mapped = 0, tensors_copied = 0, tensors_converted = 0, tensors_host_resident = 0;
  uint64_t bytes_total = 0;  // source bytes of every tensor
  uint64_t bytes_mapped = 0, bytes_copied = 0, bytes_converted = 0;
  uint64_t device_bytes = 0;       // bytes allocated on devices that cannot read host memory
  uint64_t host_copy_bytes = 0;    // bytes of host buffers holding copies
  uint64_t staging_budget_bytes = 0;
  uint64_t staging_peak_bytes = 0;
  // Of the staging slots allocated, bytes that are the device's own staging
  // memory (pinned host memory for cuda), which it uploads from by DMA.
  uint64_t staging_device_bytes = 0;
  unsigned threads = 0;
  PhaseTimes time;
  ProcessMemory memory_before;     // at the start of the load
  ProcessMemory memory;            // after everything open() did (the load, then Options::loras)
  uint64_t page_cache_bytes = 0;   // model files' resident bytes when ready (sampled: an estimate)
  uint64_t file_bytes = 0;         // size of the model files
  // Page-cache handling: what was asked, what was done.
  std::string hints_requested;
  std::string hints_applied;
  double residency_before = -1;    // sampled, of mapped tensor bytes; -1 when not measured
  std::string prefetch_mode;
  std::string io_mode;             // copy path reads: read, direct, uring
  uint64_t cache_window_bytes = 0;
  uint64_t cache_dropped_bytes = 0;  // copy path: consumed ranges dropped from the cache
  // Reliability options: what was held and pinned.
  std::string file_locks;          // with lock_files: per file "lease" or "flock", comma-separated
  uint64_t mlocked_bytes = 0;      // with mlock: bytes pinned (mapped: as they are read)
  std::string mlock_error;         // with mlock: the first refusal, when one failed
  ShardReport shard;

  // RssAnon growth over the load (negative if the load freed memory).
  double anon_growth_mib() const {
    return (static_cast<double>(memory.anon_kib) - static_cast<double>(memory_before.anon_kib)) / 1024;
  }
};

}  // namespace wm
