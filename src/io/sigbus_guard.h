// A SIGBUS guard for the code that touches mapped pages on the engine's
// behalf (compute pass, verify, LoRA patching). When a mapped file is
// truncated, touching a page past its new end raises SIGBUS, which kills
// the process. Inside guard_sigbus(), a SIGBUS raised by this thread on an
// address in the guarded range ends the guarded call instead, and the
// caller gets the faulting address to report as an error for that file.
//
// Any other SIGBUS (another thread, another address, sent by kill) and
// every other signal go where they went before: to the handler installed
// before the first guard (often none, and the process dies as it would
// have). The handler is installed once, on first use.
//
// POSIX: a SIGBUS handler and siglongjmp (io/posix); Windows: the same
// contract for EXCEPTION_IN_PAGE_ERROR (io/windows).
//
// The guarded function must be a leaf: no allocation, no locks, nothing
// whose destructor must run, because a fault leaves it by siglongjmp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace wm {

namespace detail {
// Runs fn(ctx) under the guard; returns the faulting address or nullptr
// (per platform).
const std::byte* run_sigbus_guarded(const std::byte* lo, uint64_t len, void (*fn)(void*), void* ctx);
// Called by the platform's handler for each fault it catches
// (async-signal-safe: one lock-free atomic add).
void count_caught_fault();
}  // namespace detail

// Runs `fn()`; returns nullptr when it finished, or the address in
// [lo, lo + len) whose page could not be read (fn was cut short).
template <class F>
const std::byte* guard_sigbus(const std::byte* lo, uint64_t len, F&& fn) {
  auto call = [](void* ctx) { (*static_cast<std::remove_reference_t<F>*>(ctx))(); };
  return detail::run_sigbus_guarded(lo, len, call, const_cast<void*>(static_cast<const void*>(&fn)));
}

// Copies n bytes from mapped memory under the guard (verify reads mapped
// tensors through this). Returns the faulting source address or nullptr.
const std::byte* guarded_copy(std::byte* dst, const std::byte* src, uint64_t n);

// How many SIGBUS faults guards have caught in this process (tests, logs).
uint64_t sigbus_faults_caught();

}  // namespace wm
