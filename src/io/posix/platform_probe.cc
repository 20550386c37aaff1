// io/platform.h's answers on POSIX. The Linux-only facilities are probed
// on Linux (kernel version, a one-page madvise, an io_uring set up and
// torn down, /proc and cgroup files) and reported missing elsewhere.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "io/page_size.h"
#include "io/platform.h"
#include "io/uring_reader.h"

#if defined(__linux__) && !defined(MADV_POPULATE_READ)
#define MADV_POPULATE_READ 22  // Linux 5.14; older headers lack the name
#endif

namespace wm {
namespace {

CapabilityStatus yes(std::string mechanism) { return {true, std::move(mechanism), {}}; }
CapabilityStatus no(std::string reason) { return {false, {}, std::move(reason)}; }

[[maybe_unused]] std::string kernel_release() {
  struct utsname u {};
  return ::uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

[[maybe_unused]] bool readable(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  if (!f) return false;
  std::fclose(f);
  return true;
}

#if defined(__linux__)
CapabilityStatus probe_populate_read() {
  const uint64_t page = page_size();
  void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return no("the probe's one-page mapping failed");
  int rc = ::madvise(p, page, MADV_POPULATE_READ);
  int err = errno;
  ::munmap(p, page);
  if (rc == 0) return yes("madvise(MADV_POPULATE_READ)");
  return no(err == EINVAL ? fmt::format("kernel {} has no MADV_POPULATE_READ (needs Linux 5.14+)", kernel_release())
                          : fmt::format("madvise(MADV_POPULATE_READ) refused: {}", std::strerror(err)));
}

CapabilityStatus probe_lease() {
  if (std::FILE* f = std::fopen("/proc/sys/fs/leases-enable", "r")) {
    int enabled = 1;
    if (std::fscanf(f, "%d", &enabled) != 1) enabled = 1;
    std::fclose(f);
    if (!enabled) return no("leases are disabled (/proc/sys/fs/leases-enable is 0)");
  }
  return yes("fcntl(F_SETLEASE) (per file: the file must be ours or we need CAP_LEASE; else flock)");
}

CapabilityStatus probe_async_io() {
  auto ring = UringReader::create(1, 4096);
  if (ring) return yes("io_uring");
  return no(ring.error().message + " (io_uring disabled, or kernel " + kernel_release() + " too old)");
}

CapabilityStatus probe_process_memory() {
  if (readable("/proc/self/status")) return yes("/proc/self/status (VmHWM, RssAnon, RssFile)");
  return no("/proc/self/status cannot be read (/proc not mounted)");
}

CapabilityStatus probe_cgroup_limit() {
  if (readable("/sys/fs/cgroup/memory.max")) return yes("cgroup v2 /sys/fs/cgroup/memory.max");
  if (readable("/sys/fs/cgroup/memory/memory.limit_in_bytes")) return yes("cgroup v1 memory.limit_in_bytes");
  return no("no cgroup memory controller is mounted at /sys/fs/cgroup");
}
#endif

}  // namespace

CapabilityStatus probe_capability(Capability c) {
  switch (c) {
    case Capability::kSharedReadOnlyMap: return yes("mmap(PROT_READ, MAP_SHARED)");
    case Capability::kPrivateCopyOnWrite: return yes("mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE)");
    case Capability::kAccessHints: return yes("madvise(MADV_SEQUENTIAL / MADV_RANDOM)");
    case Capability::kPrefetch: return yes("madvise(MADV_WILLNEED)");
    case Capability::kResidencyQuery: return yes("mincore");
    case Capability::kFileLock: return yes("flock(LOCK_SH)");
    case Capability::kFaultGuard: return yes("SIGBUS handler + siglongjmp");
    case Capability::kSpawnChild: return yes("posix_spawn + waitpid");
    case Capability::kMemoryPinning: {
      struct rlimit rl {};
      if (::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return yes(fmt::format("mlock (RLIMIT_MEMLOCK {} KiB)", static_cast<uint64_t>(rl.rlim_cur) / 1024));
      return yes("mlock");
    }
    case Capability::kPageCacheEviction:
#if defined(POSIX_FADV_DONTNEED)
      return yes("posix_fadvise(POSIX_FADV_DONTNEED)");
#else
      return no("this OS has no posix_fadvise: the cache cannot be told to drop a file");
#endif
    case Capability::kDirectIo:
#if defined(O_DIRECT)
      return yes("O_DIRECT (per filesystem: tmpfs and some FUSE refuse it)");
#elif defined(F_NOCACHE)
      return yes("fcntl(F_NOCACHE)");
#else
      return no("this OS has neither O_DIRECT nor F_NOCACHE");
#endif
#if defined(__linux__)
    case Capability::kPopulateRead: return probe_populate_read();
    case Capability::kFileLease: return probe_lease();
    case Capability::kPinOnFault:
#if defined(MLOCK_ONFAULT)
      return yes("mlock2(MLOCK_ONFAULT)");
#else
      return no("the C library has no mlock2(MLOCK_ONFAULT)");
#endif
    case Capability::kAsyncIo: return probe_async_io();
    case Capability::kProcessMemory: return probe_process_memory();
    case Capability::kCgroupMemoryLimit: return probe_cgroup_limit();
#else
    case Capability::kPopulateRead:
    case Capability::kFileLease:
    case Capability::kPinOnFault:
    case Capability::kAsyncIo:
    case Capability::kCgroupMemoryLimit: return no("Linux-only; not on this OS");
    case Capability::kProcessMemory: return no("no /proc/self/status on this OS: peak resident set only (getrusage)");
#endif
  }
  return no("unknown capability");
}

std::string probe_platform_description() {
  struct utsname u {};
  if (::uname(&u) != 0) return "POSIX (uname failed)";
  return fmt::format("{} {} {}", u.sysname, u.release, u.machine);
}

}  // namespace wm
