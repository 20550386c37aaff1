#include "io/fault_injection.h"

#include <atomic>
#include <cerrno>

namespace wm {
namespace {
// Relaxed is enough: the injector is installed before the threads that use
// it are started (thread creation orders it) and removed after they join.
std::atomic<FaultInjector*> g_injector{nullptr};
FaultInjector* injector() { return g_injector.load(std::memory_order_relaxed); }
}  // namespace

std::optional<int64_t> FaultInjector::pread(NativeHandle, void*, size_t, uint64_t) { return std::nullopt; }
std::optional<int64_t> FaultInjector::write(NativeHandle, const void*, size_t) { return std::nullopt; }
int FaultInjector::uring_read_result(NativeHandle, uint64_t, size_t, int res) { return res; }
std::optional<int> FaultInjector::uring_submit() { return std::nullopt; }
bool FaultInjector::fail_alloc(size_t) { return false; }

void set_fault_injector(FaultInjector* i) { g_injector.store(i, std::memory_order_relaxed); }

namespace sys {

int64_t pread(NativeHandle file, void* buf, size_t n, uint64_t offset) {
  if (FaultInjector* i = injector())
    if (auto r = i->pread(file, buf, n, offset)) return *r;
  return native_pread(file, buf, n, offset);
}

int64_t write(NativeHandle file, const void* buf, size_t n) {
  if (FaultInjector* i = injector())
    if (auto r = i->write(file, buf, n)) return *r;
  return native_write(file, buf, n);
}

int uring_read_result(NativeHandle file, uint64_t offset, size_t n, int res) {
  if (FaultInjector* i = injector()) return i->uring_read_result(file, offset, n, res);
  return res;
}

std::optional<int> uring_submit() {
  if (FaultInjector* i = injector()) return i->uring_submit();
  return std::nullopt;
}

void* aligned_alloc(size_t alignment, size_t bytes) {
  if (FaultInjector* i = injector())
    if (i->fail_alloc(bytes)) {
      errno = ENOMEM;  // as the real allocation would
      return nullptr;
    }
  return native_aligned_alloc(alignment, bytes);
}

}  // namespace sys
}  // namespace wm
