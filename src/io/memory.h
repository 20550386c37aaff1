// Memory operations on mapped or allocated ranges that other layers need
// without seeing the OS: access advice, pinning, fresh anonymous pages,
// populating and asking which pages are resident. Each says what it does
// where the OS lacks it (see io/platform.h for asking first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace wm {

// How a range of a mapping will be read (madvise; Windows has only the
// prefetch, PrefetchVirtualMemory, and ignores the others).
enum class AccessAdvice { kNormal, kSequential, kRandom, kWillNeed };
const char* access_advice_name(AccessAdvice advice);  // "MADV_SEQUENTIAL", ...

// Advises [addr, addr + len) (widened to whole pages). The error names the
// advice and the OS's reason; ErrorCode::kUnsupported where the OS has no
// such advice (Capability::kAccessHints / kPrefetch).
Status advise_memory(const std::byte* addr, uint64_t len, AccessAdvice advice);

// Reads the pages of [addr, addr + len) of a file mapping in and maps them
// (MADV_POPULATE_READ, Linux 5.14+): an unreadable page is an error, not a
// fault: ErrorCode::kChangedOnDisk for a page past the end of the file
// (it shrank). ErrorCode::kUnsupported where the kernel or OS lacks it
// (Capability::kPopulateRead), for the caller to fall back and log.
Status populate_read(const std::byte* addr, uint64_t len);

// Pins [addr, addr + len) in memory (mlock; VirtualLock on Windows); the
// error says why with what to do (RLIMIT_MEMLOCK, privileges).
Status pin_pages(const void* addr, uint64_t len);
void unpin_pages(const void* addr, uint64_t len);
// The text for a pin that failed with `err` (an errno value).
std::string pin_error_text(int err);

// One flag per page of the pages covering [addr, addr + len): whether it is
// resident (mincore; QueryWorkingSetEx on Windows). `first_page` is set to
// the address of the first page. ErrorCode::kUnsupported where the OS
// cannot tell (Capability::kResidencyQuery).
Status resident_pages(const std::byte* addr, uint64_t len, std::vector<unsigned char>& resident, uintptr_t& first_page);

// Fresh zeroed pages straight from the OS (not the heap), for measuring a
// first touch: mmap MAP_ANONYMOUS, VirtualAlloc on Windows.
class AnonymousMemory {
 public:
  static Result<AnonymousMemory> allocate(uint64_t bytes);
  AnonymousMemory(AnonymousMemory&& other) noexcept : data_(other.data_), size_(other.size_) { other.data_ = nullptr; }
  AnonymousMemory& operator=(AnonymousMemory&&) = delete;
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;
  ~AnonymousMemory();

  std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  AnonymousMemory(std::byte* data, uint64_t size) : data_(data), size_(size) {}
  std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace wm
