#include "io/file_lock.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <mutex>
#include <sys/file.h>

#include "io/signal_chain.h"

namespace wm {
namespace {

// Lease breaks arrive as SIGIO with si_fd set (F_SETSIG): the handler marks
// the descriptor. Descriptors past the table share one last slot, which can
// only make a check fail that should not, never the reverse.
constexpr int kTrackedFds = 1 << 16;
struct Slot {
  std::atomic<bool> leased{false};
  std::atomic<bool> broken{false};
};
std::array<Slot, kTrackedFds + 1> g_slots{};
struct sigaction g_previous_sigio;
std::once_flag g_install_once;

Slot& slot(int fd) { return g_slots[fd >= 0 && fd < kTrackedFds ? fd : kTrackedFds]; }

void on_sigio(int sig, siginfo_t* info, void* uctx) {
  if (info != nullptr && slot(info->si_fd).leased.load()) {
    slot(info->si_fd).broken.store(true);
    return;
  }
  // Not a break of one of our leases: whoever handled SIGIO before does. Where
  // nobody did, SIG_DFL would terminate the process: a SIGIO meant for nobody
  // is dropped instead.
  (void)pass_to_previous_handler(g_previous_sigio, sig, info, uctx);
}

void install() { g_previous_sigio = install_signal_handler(SIGIO, on_sigio, SA_RESTART); }

}  // namespace

const char* file_lock_name(FileLockKind kind) {
  switch (kind) {
    case FileLockKind::kNone: return "none";
    case FileLockKind::kLease: return "lease";
    case FileLockKind::kFlock: return "flock";
  }
  return "?";
}

Result<FileLockResult> lock_file(const File& file) {
  std::call_once(g_install_once, install);
  FileLockResult r;
  Slot& s = slot(file.fd());
  s.broken.store(false);
  s.leased.store(true);
  // The signal must be chosen before the lease exists: a break can come at once.
  if (fcntl(file.fd(), F_SETSIG, SIGIO) == 0 && fcntl(file.fd(), F_SETLEASE, F_RDLCK) == 0) {
    r.kind = FileLockKind::kLease;
    return r;
  }
  int err = errno;
  s.leased.store(false);
  r.why_not_lease = fmt::format("no lease: {}{}", std::strerror(err),
                                err == EACCES ? " (the file is not ours and we lack CAP_LEASE)"
                                : err == EAGAIN ? " (the file is open for writing)"
                                                : "");
  if (::flock(file.fd(), LOCK_SH | LOCK_NB) != 0)
    return Error{file.path(), {}, {},
                 fmt::format("--lock: {}; and flock failed: {}", r.why_not_lease, std::strerror(errno))};
  r.kind = FileLockKind::kFlock;
  return r;
}

void unlock_file(const File& file, FileLockKind kind) {
  if (kind == FileLockKind::kLease) fcntl(file.fd(), F_SETLEASE, F_UNLCK);
  if (kind == FileLockKind::kFlock) ::flock(file.fd(), LOCK_UN);
  Slot& s = slot(file.fd());
  s.leased.store(false);
  s.broken.store(false);
}

bool lease_break_pending(const File& file) {
  const Slot& s = slot(file.fd());
  // The signal is the news; F_GETLEASE also shows a break under way (it
  // reports the type the lease is being broken to), should it be lost.
  return s.broken.load() || (s.leased.load() && fcntl(file.fd(), F_GETLEASE) == F_UNLCK);
}

}  // namespace wm
