// --max-memory: what a plan's execution adds in anonymous memory (host
// copies, simulated device buffers, staging), checked before anything is
// allocated. Mapped tensors need none: their pages are page cache.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "plan/load_plan.h"

namespace wm {

// Bytes of anonymous memory executing `plan` allocates, with a staging budget of `staging_bytes`.
uint64_t anon_bytes_of(const LoadPlan& plan, uint64_t staging_bytes);

// Fails (naming `first_file`) when RssAnon now plus anon_bytes_of() would
// exceed `max_bytes`; 0 is no limit.
Status check_memory_limit(const LoadPlan& plan, uint64_t staging_bytes, uint64_t max_bytes,
                          const std::string& first_file);

}  // namespace wm
