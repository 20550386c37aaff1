// io/memory.h on POSIX: madvise, mlock, mincore, anonymous mmap.
#include "io/memory.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>

#include "io/page_size.h"

#if defined(__linux__) && !defined(MADV_POPULATE_READ)
#define MADV_POPULATE_READ 22  // Linux 5.14; older headers lack the name
#endif

namespace wm {
namespace {

int posix_advice(AccessAdvice advice) {
  switch (advice) {
    case AccessAdvice::kSequential: return MADV_SEQUENTIAL;
    case AccessAdvice::kRandom: return MADV_RANDOM;
    case AccessAdvice::kWillNeed: return MADV_WILLNEED;
    case AccessAdvice::kNormal: break;
  }
  return MADV_NORMAL;
}

}  // namespace

const char* access_advice_name(AccessAdvice advice) {
  switch (advice) {
    case AccessAdvice::kSequential: return "MADV_SEQUENTIAL";
    case AccessAdvice::kRandom: return "MADV_RANDOM";
    case AccessAdvice::kWillNeed: return "MADV_WILLNEED";
    case AccessAdvice::kNormal: break;
  }
  return "MADV_NORMAL";
}

Status advise_memory(const std::byte* addr, uint64_t len, AccessAdvice advice) {
  if (len == 0) return {};
  auto [start, cover] = page_cover(addr, len);
  if (::madvise(reinterpret_cast<void*>(start), cover, posix_advice(advice)) != 0)
    return Error{{}, {}, {}, fmt::format("madvise({}) failed: {}", access_advice_name(advice), std::strerror(errno))};
  return {};
}

Status populate_read(const std::byte* addr, uint64_t len) {
#if defined(__linux__)
  for (;;) {
    if (::madvise(const_cast<std::byte*>(addr), len, MADV_POPULATE_READ) == 0) return {};
    int err = errno;
    if (err == EINTR || err == EAGAIN) continue;
    if (err == EINVAL)
      return Error{{}, {}, {}, "this kernel has no MADV_POPULATE_READ (Linux 5.14+)", ErrorCode::kUnsupported};
    if (err == EFAULT)  // a page past the end of the file: it shrank under the mapping
      return Error{{}, {}, {}, "madvise(MADV_POPULATE_READ): a page past the end of the file", ErrorCode::kChangedOnDisk};
    return Error{{}, {}, {}, fmt::format("madvise(MADV_POPULATE_READ) failed: {}", std::strerror(err))};
  }
#else
  (void)addr;
  (void)len;
  return Error{{}, {}, {}, "MADV_POPULATE_READ is Linux-only; not on this OS", ErrorCode::kUnsupported};
#endif
}

std::string pin_error_text(int err) {
  return fmt::format("{}{}", std::strerror(err),
                     err == ENOMEM || err == EPERM || err == EAGAIN
                         ? " (over RLIMIT_MEMLOCK? see 'ulimit -l', or run with CAP_IPC_LOCK)"
                         : "");
}

Status pin_pages(const void* addr, uint64_t len) {
  if (::mlock(addr, len) != 0) return Error{{}, {}, {}, "mlock failed: " + pin_error_text(errno)};
  return {};
}

void unpin_pages(const void* addr, uint64_t len) { ::munlock(addr, len); }

Status resident_pages(const std::byte* addr, uint64_t len, std::vector<unsigned char>& resident, uintptr_t& first_page) {
  auto [start, cover] = page_cover(addr, len);
  resident.assign(cover / page_size(), 0);
  first_page = start;
  if (resident.empty()) return {};
#if defined(__linux__)
  using Flag = unsigned char;
#else
  using Flag = char;  // macOS and the BSDs declare mincore with char*
#endif
  if (::mincore(reinterpret_cast<void*>(start), cover, reinterpret_cast<Flag*>(resident.data())) != 0)
    return Error{{}, {}, {}, fmt::format("mincore failed: {}", std::strerror(errno))};
  for (auto& r : resident) r &= 1;  // the other bits mean other things on the BSDs
  return {};
}

Result<AnonymousMemory> AnonymousMemory::allocate(uint64_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return Error{{}, {}, {}, fmt::format("anonymous mmap of {} bytes failed: {}", bytes, std::strerror(errno)),
                 ErrorCode::kOutOfMemory};
  return AnonymousMemory(static_cast<std::byte*>(p), bytes);
}

AnonymousMemory::~AnonymousMemory() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace wm
