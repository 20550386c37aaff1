// Process memory where there is no /proc/self/status (macOS, the BSDs):
// only the peak resident set, from getrusage; the split into anonymous and
// file pages stays 0 (Capability::kProcessMemory says so).
#include <sys/resource.h>

#include "io/process_memory.h"

namespace wm {

ProcessMemory read_process_memory() {
  ProcessMemory m;
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return m;
#if defined(__APPLE__)
  m.peak_rss_kib = static_cast<uint64_t>(ru.ru_maxrss) / 1024;  // bytes on macOS
#else
  m.peak_rss_kib = static_cast<uint64_t>(ru.ru_maxrss);  // KiB on the BSDs
#endif
  return m;
}

}  // namespace wm
