// The platform-neutral part of io/platform.h: names, descriptions and the
// cache of each platform's answers.
#include "io/platform.h"

#include <array>
#include <iterator>
#include <mutex>

namespace wm {
namespace {

constexpr size_t kCount = std::size(kAllCapabilities);
// The table is in enum order: answers are indexed by the enum's value.
constexpr bool in_enum_order() {
  for (size_t i = 0; i < kCount; ++i)
    if (static_cast<size_t>(kAllCapabilities[i]) != i) return false;
  return true;
}
static_assert(in_enum_order() && kCount == static_cast<size_t>(Capability::kSpawnChild) + 1);

// Each capability is probed on first ask, not all at once: a load asks for
// a few cheap ones and must not pay for the rest (an io_uring set up and
// torn down, say).
struct Answers {
  std::array<std::once_flag, kCount> once;
  std::array<CapabilityStatus, kCount> status;
};

Answers& answers() {
  static Answers a;
  return a;
}

}  // namespace

std::string_view capability_name(Capability c) {
  switch (c) {
    case Capability::kSharedReadOnlyMap: return "shared_read_only_map";
    case Capability::kPrivateCopyOnWrite: return "private_copy_on_write";
    case Capability::kAccessHints: return "access_hints";
    case Capability::kPrefetch: return "prefetch";
    case Capability::kPopulateRead: return "populate_read";
    case Capability::kResidencyQuery: return "residency_query";
    case Capability::kPageCacheEviction: return "page_cache_eviction";
    case Capability::kFileLease: return "file_lease";
    case Capability::kFileLock: return "file_lock";
    case Capability::kMemoryPinning: return "memory_pinning";
    case Capability::kPinOnFault: return "pin_on_fault";
    case Capability::kDirectIo: return "direct_io";
    case Capability::kAsyncIo: return "async_io";
    case Capability::kFaultGuard: return "fault_guard";
    case Capability::kProcessMemory: return "process_memory";
    case Capability::kCgroupMemoryLimit: return "cgroup_memory_limit";
    case Capability::kSpawnChild: return "spawn_child";
  }
  return "?";
}

std::string_view capability_description(Capability c) {
  switch (c) {
    case Capability::kSharedReadOnlyMap: return "map a whole file read-only, shared (zero copy)";
    case Capability::kPrivateCopyOnWrite: return "map file ranges privately writable (LoRA copy-on-write)";
    case Capability::kAccessHints: return "sequential/random read-ahead advice on a mapping";
    case Capability::kPrefetch: return "asynchronous read-ahead of a mapped range";
    case Capability::kPopulateRead: return "read and map a range now, errors instead of faults";
    case Capability::kResidencyQuery: return "which pages of a mapping are in memory";
    case Capability::kPageCacheEviction: return "drop a file from the system's page cache";
    case Capability::kFileLease: return "be told before another process writes a loaded file";
    case Capability::kFileLock: return "shared lock holding off cooperating writers";
    case Capability::kMemoryPinning: return "keep pages in memory (--mlock)";
    case Capability::kPinOnFault: return "pin pages as they are touched, reading nothing now";
    case Capability::kDirectIo: return "reads that bypass the page cache (--io direct)";
    case Capability::kAsyncIo: return "several reads in flight per thread (--io uring)";
    case Capability::kFaultGuard: return "a fault in a mapped page becomes an error";
    case Capability::kProcessMemory: return "resident memory split into anonymous and file pages";
    case Capability::kCgroupMemoryLimit: return "read the container's memory limit";
    case Capability::kSpawnChild: return "run a child process and read its output (bench)";
  }
  return "?";
}

const CapabilityStatus& capability_status(Capability c) {
  Answers& a = answers();
  const size_t i = static_cast<size_t>(c);
  std::call_once(a.once[i], [&] { a.status[i] = probe_capability(c); });
  return a.status[i];
}

bool supports(Capability c) { return capability_status(c).supported; }

std::string unsupported_reason(Capability c) {
  const CapabilityStatus& s = capability_status(c);
  return s.supported ? std::string() : std::string(capability_name(c)) + ": " + s.reason;
}

std::string platform_description() {
  static const std::string kDescription = probe_platform_description();
  return kDescription;
}

}  // namespace wm
