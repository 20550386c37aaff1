// Process memory on Windows: GetProcessMemoryInfo (peak and current working
// set). Windows does not split the working set into file-backed and private
// pages the way /proc/self/status does; the private bytes committed
// (PrivateUsage: the copies the loader made) stand in for anon, capped at
// the working set, and the rest of the working set counts as file pages.
#include "io/process_memory.h"

#include <algorithm>

#include "io/windows/win32.h"
#include <psapi.h>

namespace wm {

ProcessMemory read_process_memory() {
  ProcessMemory m;
  PROCESS_MEMORY_COUNTERS_EX pmc{};
  pmc.cb = sizeof pmc;
  if (!K32GetProcessMemoryInfo(GetCurrentProcess(), reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&pmc), sizeof pmc))
    return m;
  m.peak_rss_kib = pmc.PeakWorkingSetSize / 1024;
  m.rss_kib = pmc.WorkingSetSize / 1024;
  m.anon_kib = std::min<uint64_t>(pmc.PrivateUsage, pmc.WorkingSetSize) / 1024;
  m.file_kib = m.rss_kib - m.anon_kib;
  return m;
}

}  // namespace wm
