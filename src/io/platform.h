// What this platform offers of the facilities weightmap uses. Each one can
// be asked for before use; where it is missing, the reason says whether the
// OS has no such thing or this kernel is too old, and the caller logs the
// fallback it takes with that reason. `weightmap platform` lists them all.
//
// Each answer is found on first ask (some by a harmless probe: a one-page
// madvise, an io_uring set up and torn down) and cached for the process.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wm {

enum class Capability : uint8_t {
  kSharedReadOnlyMap,     // zero copy: a whole file mapped read-only, shared
  kPrivateCopyOnWrite,    // LoRA immediately: file ranges mapped privately writable
  kAccessHints,           // sequential / random advice on a mapping (madvise)
  kPrefetch,              // asynchronous read-ahead of a range (MADV_WILLNEED, PrefetchVirtualMemory)
  kPopulateRead,          // read and map a range now, errors not faults (MADV_POPULATE_READ)
  kResidencyQuery,        // which pages are in memory (mincore, QueryWorkingSetEx)
  kPageCacheEviction,     // drop a file from the system cache (POSIX_FADV_DONTNEED)
  kFileLease,             // be told before another process writes a file (F_SETLEASE)
  kFileLock,              // a shared lock that holds off cooperating writers (flock, LockFileEx)
  kMemoryPinning,         // keep pages in memory (mlock, VirtualLock)
  kPinOnFault,            // pin pages as they are touched, reading nothing now (mlock2 MLOCK_ONFAULT)
  kDirectIo,              // reads that bypass the page cache (O_DIRECT, F_NOCACHE, FILE_FLAG_NO_BUFFERING)
  kAsyncIo,               // several reads in flight per thread (io_uring, overlapped I/O)
  kFaultGuard,            // a fault in a mapped page becomes an error (SIGBUS, EXCEPTION_IN_PAGE_ERROR)
  kProcessMemory,         // resident set split into anonymous and file pages (/proc/self/status)
  kCgroupMemoryLimit,     // the container's memory limit can be read (cgroup v2 memory.max)
  kSpawnChild,            // run a child process and read its output (posix_spawn, CreateProcess)
};
inline constexpr Capability kAllCapabilities[] = {
    Capability::kSharedReadOnlyMap, Capability::kPrivateCopyOnWrite, Capability::kAccessHints,
    Capability::kPrefetch,          Capability::kPopulateRead,       Capability::kResidencyQuery,
    Capability::kPageCacheEviction, Capability::kFileLease,          Capability::kFileLock,
    Capability::kMemoryPinning,     Capability::kPinOnFault,         Capability::kDirectIo,
    Capability::kAsyncIo,           Capability::kFaultGuard,         Capability::kProcessMemory,
    Capability::kCgroupMemoryLimit, Capability::kSpawnChild,
};

// A stable name ("populate_read"), for logs and `weightmap platform --json`.
std::string_view capability_name(Capability c);
// What it is, in a few words ("read and map a range now").
std::string_view capability_description(Capability c);

struct CapabilityStatus {
  bool supported = false;
  std::string mechanism;  // how it is done here ("madvise(MADV_POPULATE_READ)"), or ""
  std::string reason;     // why not, when unsupported ("Linux-only; not on this OS", "kernel 5.10 < 5.14")
};

bool supports(Capability c);
// The whole answer, mechanism and reason included.
const CapabilityStatus& capability_status(Capability c);
// "" when supported; else the reason, for a fallback's log line.
std::string unsupported_reason(Capability c);
// The OS and kernel this process runs on ("Linux 6.1.0-18-amd64 x86_64").
std::string platform_description();

// Each platform's answer, found once by the neutral code above
// (io/posix/platform_probe.cc, io/windows/).
CapabilityStatus probe_capability(Capability c);
std::string probe_platform_description();

}  // namespace wm
