// The system page size, read once: mappings, residency and prefetch chunks
// all work in whole pages.
#pragma once

#include <cstdint>

namespace wm {

uint64_t page_size();

}  // namespace wm
