// Signal handlers that share their signal with whoever handled it before
// (the engine, a sanitizer): weightmap's handlers take only what is theirs
// (a fault in a guarded range, a break of one of our leases) and pass the
// rest on. Used by io/sigbus_guard and io/file_lock.
#pragma once

#include <csignal>

namespace wm {

using SignalHandler = void (*)(int, siginfo_t*, void*);

// Installs `handler` (SA_SIGINFO | `flags`) for `sig` and returns the
// disposition it replaces. The old one is read before the new one is set,
// since the handler may run as soon as it is.
struct sigaction install_signal_handler(int sig, SignalHandler handler, int flags);

// Calls the handler `previous` names. False when it names none (SIG_DFL or
// SIG_IGN): what that means for this signal is the caller's to do.
bool pass_to_previous_handler(const struct sigaction& previous, int sig, siginfo_t* info, void* uctx);

}  // namespace wm
