// The system page size, read once: mappings, residency and prefetch chunks
// all work in whole pages.
#pragma once

#include <cstdint>
#include <utility>

namespace wm {

uint64_t page_size();

// [addr, addr + len) widened to whole pages, as the OS's hint, lock and
// residency calls want: {first page's address, length in bytes}.
inline std::pair<uintptr_t, uint64_t> page_cover(const void* addr, uint64_t len) {
  const uint64_t page = page_size();
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(addr) + len + page - 1) / page * page;
  return {start, end - start};
}

}  // namespace wm
