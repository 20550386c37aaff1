// This process's memory as the kernel counts it (Linux: /proc/self/status):
// peak resident set, and the resident set split into anonymous memory
// (copies the loader made) and file pages (mapped model bytes). Where the
// OS has no such split (Capability::kProcessMemory) only what it has is
// filled in (macOS, BSD: the peak, from getrusage) and the rest stays 0.
#pragma once

#include <cstdint>

#include "weightmap/report.hpp"

namespace wm {

ProcessMemory read_process_memory();

}  // namespace wm
