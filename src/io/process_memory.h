// This process's memory as the kernel counts it (/proc/self/status):
// peak resident set, and the resident set split into anonymous memory
// (copies the loader made) and file pages (mapped model bytes).
#pragma once

#include <cstdint>

#include "weightmap/report.hpp"

namespace wm {

ProcessMemory read_process_memory();

}  // namespace wm
