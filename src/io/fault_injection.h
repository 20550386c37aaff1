// A test seam for the system calls whose failures users must see handled:
// tests install an injector to return EINTR, short reads and writes, EIO,
// ENOSPC or a failed allocation; production code calls wm::sys::*, which
// run the real call when none is installed (one relaxed atomic load per
// call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include "io/native_handle.h"

namespace wm {

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // std::nullopt: run the real call; otherwise the result to return instead
  // (set errno yourself for -1: the platform code reports errors as errno
  // values on every OS). To short a read or write, make the real call
  // (sys::native_pread/native_write) with a smaller n and return what it
  // returned.
  virtual std::optional<int64_t> pread(NativeHandle file, void* buf, size_t n, uint64_t offset);
  virtual std::optional<int64_t> write(NativeHandle file, const void* buf, size_t n);
  // An asynchronous (io_uring) completion of a read of `n` bytes at
  // `offset`, whose result the kernel gave as `res` (bytes, or -errno):
  // returns the result to use.
  virtual int uring_read_result(NativeHandle file, uint64_t offset, size_t n, int res);
  // io_uring_submit_and_wait: std::nullopt runs it; a value (-errno) is
  // returned instead and nothing is submitted.
  virtual std::optional<int> uring_submit();
  // true: the allocation fails (returns nullptr).
  virtual bool fail_alloc(size_t bytes);
};

// Installs `injector` for the whole process (nullptr: none). Tests only:
// install before starting the work and remove after it is joined, never
// while loads run (calls read the pointer relaxed; the injector must be
// thread-safe if the work is multi-threaded).
void set_fault_injector(FaultInjector* injector);

// Installs an injector for its lifetime (tests).
class ScopedFaultInjector {
 public:
  explicit ScopedFaultInjector(FaultInjector* injector) { set_fault_injector(injector); }
  ~ScopedFaultInjector() { set_fault_injector(nullptr); }
  ScopedFaultInjector(const ScopedFaultInjector&) = delete;
  ScopedFaultInjector& operator=(const ScopedFaultInjector&) = delete;
};

// The calls production code makes where a failure must be handled.
namespace sys {
// Bytes read or written, or -1 with errno set (EINTR: try again).
int64_t pread(NativeHandle file, void* buf, size_t n, uint64_t offset);
int64_t write(NativeHandle file, const void* buf, size_t n);
// The real calls, without the seam (each platform's file implements them).
int64_t native_pread(NativeHandle file, void* buf, size_t n, uint64_t offset);
int64_t native_write(NativeHandle file, const void* buf, size_t n);
int uring_read_result(NativeHandle file, uint64_t offset, size_t n, int res);
// Whether to submit: std::nullopt to make the real call, else its injected result.
std::optional<int> uring_submit();
// Aligned memory unless the injector fails it; free with sys::aligned_free
// (std::aligned_alloc/std::free on POSIX, _aligned_malloc/_aligned_free on
// Windows, whose C library has no std::aligned_alloc).
void* aligned_alloc(size_t alignment, size_t bytes);
void aligned_free(void* p);
// The real allocation, without the seam (per platform).
void* native_aligned_alloc(size_t alignment, size_t bytes);
}  // namespace sys

}  // namespace wm
