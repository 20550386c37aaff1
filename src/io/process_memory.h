// This process's memory as the kernel counts it (/proc/self/status):
// peak resident set, and the resident set split into anonymous memory
// (copies the loader made) and file pages (mapped model bytes).
#pragma once

#include <cstdint>

namespace wm {

struct ProcessMemory {
  uint64_t peak_rss_kib = 0;  // VmHWM
  uint64_t rss_kib = 0;       // VmRSS
  uint64_t anon_kib = 0;      // RssAnon
  uint64_t file_kib = 0;      // RssFile
};

ProcessMemory read_process_memory();

}  // namespace wm
