#include "io/posix/signal_chain.h"

namespace wm {

struct sigaction install_signal_handler(int sig, SignalHandler handler, int flags) {
  struct sigaction previous {};
  sigaction(sig, nullptr, &previous);
  struct sigaction sa {};
  sa.sa_sigaction = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | flags;
  sigaction(sig, &sa, nullptr);
  return previous;
}

bool pass_to_previous_handler(const struct sigaction& previous, int sig, siginfo_t* info, void* uctx) {
  if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(sig, info, uctx);
    return true;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return true;
  }
  return false;
}

}  // namespace wm
