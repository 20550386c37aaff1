// Process memory on Linux: /proc/self/status.
#include "io/process_memory.h"

#include <cstdio>
#include <cstring>

namespace wm {

ProcessMemory read_process_memory() {
  ProcessMemory m;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long v = 0;
    if (std::sscanf(line, "VmHWM: %llu kB", &v) == 1) m.peak_rss_kib = v;
    else if (std::sscanf(line, "VmRSS: %llu kB", &v) == 1) m.rss_kib = v;
    else if (std::sscanf(line, "RssAnon: %llu kB", &v) == 1) m.anon_kib = v;
    else if (std::sscanf(line, "RssFile: %llu kB", &v) == 1) m.file_kib = v;
  }
  std::fclose(f);
  return m;
}

}  // namespace wm
