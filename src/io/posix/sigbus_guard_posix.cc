// The fault guard on POSIX: a SIGBUS handler and sigsetjmp/siglongjmp.
#include "io/sigbus_guard.h"

#include <atomic>
#include <csetjmp>
#include <csignal>
#include <mutex>

#include "io/posix/signal_chain.h"

namespace wm {
namespace {

// One guarded call on this thread; nested calls form a stack.
struct Frame {
  sigjmp_buf env;
  const std::byte* lo;
  const std::byte* hi;
  const std::byte* fault;
  Frame* prev;
};

// initial-exec: reading it in a signal handler must never allocate.
thread_local Frame* t_top __attribute__((tls_model("initial-exec"))) = nullptr;

struct sigaction g_previous;  // the SIGBUS disposition before ours
std::once_flag g_install_once;

void pass_on(int sig, siginfo_t* info, void* uctx) {
  if (pass_to_previous_handler(g_previous, sig, info, uctx)) return;
  // Default action: put it back and let the signal happen again. A fault
  // re-executes the instruction on return; a sent signal is raised here.
  signal(SIGBUS, SIG_DFL);
  if (info == nullptr || info->si_code <= 0) raise(SIGBUS);
}

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  const auto* addr = info ? static_cast<const std::byte*>(info->si_addr) : nullptr;
  if (info != nullptr && info->si_code > 0)  // raised by the kernel for a fault, not sent
    for (Frame* f = t_top; f != nullptr; f = f->prev)
      if (addr >= f->lo && addr < f->hi) {
        f->fault = addr;
        detail::count_caught_fault();
        siglongjmp(f->env, 1);
      }
  pass_on(sig, info, uctx);
}

void install() {
  // SA_NODEFER: SIGBUS is not blocked while the handler runs, so leaving it
  // by siglongjmp needs no saved mask (sigsetjmp(env, 0): no syscall per guard).
  g_previous = install_signal_handler(SIGBUS, on_sigbus, SA_NODEFER | SA_ONSTACK);
}

}  // namespace

namespace detail {

const std::byte* run_sigbus_guarded(const std::byte* lo, uint64_t len, void (*fn)(void*), void* ctx) {
  std::call_once(g_install_once, install);
  Frame frame;
  frame.lo = lo;
  frame.hi = lo + len;
  frame.fault = nullptr;
  frame.prev = t_top;
  // The frame is published only after sigsetjmp filled it.
  if (sigsetjmp(frame.env, 0) == 0) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    t_top = &frame;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    fn(ctx);
  }
  t_top = frame.prev;
  // Written by the handler behind the compiler's back: read it from memory.
  return *static_cast<const std::byte* volatile*>(&frame.fault);
}

}  // namespace detail

}  // namespace wm
