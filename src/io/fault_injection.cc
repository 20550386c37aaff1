#include "io/fault_injection.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace wm {
namespace {
// Relaxed is enough: the injector is installed before the threads that use
// it are started (thread creation orders it) and removed after they join.
std::atomic<FaultInjector*> g_injector{nullptr};
FaultInjector* injector() { return g_injector.load(std::memory_order_relaxed); }
}  // namespace

std::optional<ssize_t> FaultInjector::pread(int, void*, size_t, off_t) { return std::nullopt; }
std::optional<ssize_t> FaultInjector::write(int, const void*, size_t) { return std::nullopt; }
int FaultInjector::uring_read_result(int, uint64_t, size_t, int res) { return res; }
std::optional<int> FaultInjector::uring_submit() { return std::nullopt; }
bool FaultInjector::fail_alloc(size_t) { return false; }

void set_fault_injector(FaultInjector* i) { g_injector.store(i, std::memory_order_relaxed); }

namespace sys {

ssize_t pread(int fd, void* buf, size_t n, off_t offset) {
  if (FaultInjector* i = injector())
    if (auto r = i->pread(fd, buf, n, offset)) return *r;
  return ::pread(fd, buf, n, offset);
}

ssize_t write(int fd, const void* buf, size_t n) {
  if (FaultInjector* i = injector())
    if (auto r = i->write(fd, buf, n)) return *r;
  return ::write(fd, buf, n);
}

int uring_read_result(int fd, uint64_t offset, size_t n, int res) {
  if (FaultInjector* i = injector()) return i->uring_read_result(fd, offset, n, res);
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
  return std::aligned_alloc(alignment, bytes);
}

}  // namespace sys
}  // namespace wm
