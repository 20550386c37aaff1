// io/memory.h on Windows: PrefetchVirtualMemory for read-ahead,
// VirtualLock for pinning, QueryWorkingSetEx for residency, VirtualAlloc
// for fresh pages. Windows has no sequential/random advice for a mapping
// and no populate-with-errors call: those say kUnsupported, and their
// callers log the fallback (io/platform.h has the reasons).
#include "io/memory.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/page_size.h"
#include "io/windows/win32.h"
#include <psapi.h>

namespace wm {

const char* access_advice_name(AccessAdvice advice) {
  switch (advice) {
    case AccessAdvice::kSequential: return "sequential";
    case AccessAdvice::kRandom: return "random";
    case AccessAdvice::kWillNeed: return "PrefetchVirtualMemory";
    case AccessAdvice::kNormal: break;
  }
  return "normal";
}

Status advise_memory(const std::byte* addr, uint64_t len, AccessAdvice advice) {
  if (len == 0 || advice == AccessAdvice::kNormal) return {};  // normal is what every view starts as
  if (advice != AccessAdvice::kWillNeed)
    return Error{{}, {}, {},
                 fmt::format("Windows has no {} access advice for a mapping (only PrefetchVirtualMemory)",
                             access_advice_name(advice)),
                 ErrorCode::kUnsupported};
  auto [start, cover] = page_cover(addr, len);
  WIN32_MEMORY_RANGE_ENTRY range{reinterpret_cast<void*>(start), static_cast<SIZE_T>(cover)};
  if (!PrefetchVirtualMemory(GetCurrentProcess(), 1, &range, 0))
    return Error{{}, {}, {}, fmt::format("PrefetchVirtualMemory failed: {}", win::error_text(GetLastError()))};
  return {};
}

Status populate_read(const std::byte*, uint64_t) {
  return Error{{}, {}, {},
               "Windows has no call that reads pages in and reports an unreadable one as an error "
               "(MADV_POPULATE_READ is Linux-only)",
               ErrorCode::kUnsupported};
}

std::string pin_error_text(int err) {
  return fmt::format("{} (the working-set quota; SetProcessWorkingSetSize could not raise it)",
                     win::error_text(static_cast<DWORD>(err)));
}

Status pin_pages(const void* addr, uint64_t len) {
  if (len == 0) return {};
  LPVOID p = const_cast<void*>(addr);
  if (VirtualLock(p, len)) return {};
  DWORD err = GetLastError();
  if (err == ERROR_WORKING_SET_QUOTA) {
    // A process may lock only up to its minimum working set: raise both
    // bounds by the range (and a margin for the process's own pages), once.
    SIZE_T lo = 0, hi = 0;
    if (GetProcessWorkingSetSize(GetCurrentProcess(), &lo, &hi) &&
        SetProcessWorkingSetSize(GetCurrentProcess(), lo + len + (16u << 20), hi + len + (16u << 20)) &&
        VirtualLock(p, len))
      return {};
    err = GetLastError();
  }
  return Error{{}, {}, {}, "VirtualLock failed: " + pin_error_text(static_cast<int>(err))};
}

void unpin_pages(const void* addr, uint64_t len) {
  if (len > 0) VirtualUnlock(const_cast<void*>(addr), len);
}

Status resident_pages(const std::byte* addr, uint64_t len, std::vector<unsigned char>& resident, uintptr_t& first_page) {
  auto [start, cover] = page_cover(addr, len);
  const uint64_t page = page_size();
  resident.assign(cover / page, 0);
  first_page = start;
  // This process's working set: a page counts as resident when it is mapped
  // here (Valid), the closest Windows has to mincore (which also sees pages
  // cached but not yet mapped by this process).
  constexpr size_t kBatch = 4096;
  std::vector<PSAPI_WORKING_SET_EX_INFORMATION> info;
  for (size_t first = 0; first < resident.size(); first += kBatch) {
    size_t n = std::min(kBatch, resident.size() - first);
    info.assign(n, {});
    for (size_t i = 0; i < n; ++i) info[i].VirtualAddress = reinterpret_cast<void*>(start + (first + i) * page);
    if (!K32QueryWorkingSetEx(GetCurrentProcess(), info.data(), static_cast<DWORD>(n * sizeof info[0])))
      return Error{{}, {}, {}, fmt::format("QueryWorkingSetEx failed: {}", win::error_text(GetLastError()))};
    for (size_t i = 0; i < n; ++i) resident[first + i] = info[i].VirtualAttributes.Valid ? 1 : 0;
  }
  return {};
}

Result<AnonymousMemory> AnonymousMemory::allocate(uint64_t bytes) {
  void* p = VirtualAlloc(nullptr, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  if (p == nullptr)
    return Error{{}, {}, {}, fmt::format("VirtualAlloc of {} bytes failed: {}", bytes, win::error_text(GetLastError())),
                 ErrorCode::kOutOfMemory};
  return AnonymousMemory(static_cast<std::byte*>(p), bytes);
}

AnonymousMemory::~AnonymousMemory() {
  if (data_) VirtualFree(data_, 0, MEM_RELEASE);
}

}  // namespace wm
