// The platform-neutral part of the fault guard: the copy verify uses and
// the count of caught faults. The handlers are per platform
// (io/posix/sigbus_guard_posix.cc, io/windows/sigbus_guard_windows.cc).
#include "io/sigbus_guard.h"

#include <atomic>
#include <cstring>

namespace wm {
namespace {

std::atomic<uint64_t> g_caught{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "counted from a signal handler");

}  // namespace

void detail::count_caught_fault() { g_caught.fetch_add(1, std::memory_order_relaxed); }

const std::byte* guarded_copy(std::byte* dst, const std::byte* src, uint64_t n) {
  return guard_sigbus(src, n, [&] { std::memcpy(dst, src, n); });
}

uint64_t sigbus_faults_caught() { return g_caught.load(std::memory_order_relaxed); }

}  // namespace wm
