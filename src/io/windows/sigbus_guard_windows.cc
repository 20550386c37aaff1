// The fault guard on Windows: a vectored exception handler. A page of a
// mapped file that cannot be read (the file is on a network share that
// went away, a disk error, or under wine a host file truncated under the
// mapping) raises EXCEPTION_IN_PAGE_ERROR where Linux raises SIGBUS. When
// the faulting address is in a range this thread guards, the handler
// records it and resumes the thread in a landing function that jumps back
// into run_sigbus_guarded (leaving the handler by returning, not by a jump
// across the system's exception dispatcher). Any other exception goes on
// to the next handler, as before.
#include "io/sigbus_guard.h"

#include <atomic>
#include <mutex>

#include "io/windows/win32.h"

#if !defined(__x86_64__) && !defined(_M_X64)
#error "io/windows/sigbus_guard_windows.cc resumes the thread through x86-64 registers (Rip, Rsp)"
#endif

namespace wm {
namespace {

struct Frame {
  void* env[5];  // __builtin_setjmp's buffer: no unwinding, registers only
  const std::byte* lo;
  const std::byte* hi;
  const std::byte* fault;
  Frame* prev;
};

thread_local Frame* t_top = nullptr;
thread_local Frame* t_landing = nullptr;  // the frame the landing function jumps to
std::once_flag g_install_once;

[[noreturn]] void land_after_fault() { __builtin_longjmp(t_landing->env, 1); }

LONG CALLBACK on_exception(EXCEPTION_POINTERS* ep) {
  const EXCEPTION_RECORD* rec = ep->ExceptionRecord;
  // EXCEPTION_IN_PAGE_ERROR is Windows' SIGBUS. Wine reports a host SIGBUS
  // on a mapped file (the host file shrank) as an access violation; inside
  // a guarded range of mapped bytes that means the same thing.
  if (rec->ExceptionCode != EXCEPTION_IN_PAGE_ERROR && rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION)
    return EXCEPTION_CONTINUE_SEARCH;
  if (rec->NumberParameters < 2) return EXCEPTION_CONTINUE_SEARCH;
  const auto* addr = reinterpret_cast<const std::byte*>(rec->ExceptionInformation[1]);
  for (Frame* f = t_top; f != nullptr; f = f->prev)
    if (addr >= f->lo && addr < f->hi) {
      f->fault = addr;
      t_landing = f;
      detail::count_caught_fault();
      // Resume in land_after_fault on this thread's stack, below the faulting
      // frame, aligned as at a call (16n + 8).
      CONTEXT* ctx = ep->ContextRecord;
      ctx->Rsp = ((ctx->Rsp - 256) & ~static_cast<DWORD64>(15)) - 8;
      ctx->Rip = reinterpret_cast<DWORD64>(&land_after_fault);
      return EXCEPTION_CONTINUE_EXECUTION;
    }
  return EXCEPTION_CONTINUE_SEARCH;
}

// First in the chain: a debugger or the C runtime must not see a fault
// that a guard turns into an error.
void install() { AddVectoredExceptionHandler(1, on_exception); }

}  // namespace

namespace detail {

const std::byte* run_sigbus_guarded(const std::byte* lo, uint64_t len, void (*fn)(void*), void* ctx) {
  std::call_once(g_install_once, install);
  Frame frame;
  frame.lo = lo;
  frame.hi = lo + len;
  frame.fault = nullptr;
  frame.prev = t_top;
  if (__builtin_setjmp(frame.env) == 0) {
    t_top = &frame;
    fn(ctx);
  }
  t_top = frame.prev;
  return *static_cast<const std::byte* volatile*>(&frame.fault);
}

}  // namespace detail

}  // namespace wm
