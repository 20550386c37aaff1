// File locks on POSIX: a read lease (fcntl F_SETLEASE, Linux only) where
// the kernel grants one, else a shared flock (every POSIX system).
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

#include "io/posix/signal_chain.h"

namespace wm {
namespace {

int fd_of(const File& file) { return static_cast<int>(file.native_handle().value); }

#if defined(__linux__)
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

// Takes a read lease on fd; on refusal says why in `why_not`.
bool take_lease(int fd, std::string& why_not) {
  std::call_once(g_install_once, install);
  Slot& s = slot(fd);
  s.broken.store(false);
  s.leased.store(true);
  // The signal must be chosen before the lease exists: a break can come at once.
  if (fcntl(fd, F_SETSIG, SIGIO) == 0 && fcntl(fd, F_SETLEASE, F_RDLCK) == 0) return true;
  int err = errno;
  s.leased.store(false);
  why_not = fmt::format("no lease: {}{}", std::strerror(err),
                        err == EACCES ? " (the file is not ours and we lack CAP_LEASE)"
                        : err == EAGAIN ? " (the file is open for writing)"
                                        : "");
  return false;
}

void give_back_lease(int fd, bool held) {
  if (held) fcntl(fd, F_SETLEASE, F_UNLCK);
  Slot& s = slot(fd);
  s.leased.store(false);
  s.broken.store(false);
}

bool lease_broken(int fd) {
  const Slot& s = slot(fd);
  // The signal is the news; F_GETLEASE also shows a break under way (it
  // reports the type the lease is being broken to), should it be lost.
  return s.broken.load() || (s.leased.load() && fcntl(fd, F_GETLEASE) == F_UNLCK);
}
#else
// Leases are Linux-only: every lock here is a flock.
bool take_lease(int, std::string& why_not) {
  why_not = "no lease: file leases (F_SETLEASE) are Linux-only";
  return false;
}
void give_back_lease(int, bool) {}
bool lease_broken(int) { return false; }
#endif

}  // namespace

Result<FileLockResult> lock_file(const File& file) {
  FileLockResult r;
  if (take_lease(fd_of(file), r.why_not_lease)) {
    r.kind = FileLockKind::kLease;
    return r;
  }
  if (::flock(fd_of(file), LOCK_SH | LOCK_NB) != 0)
    return Error{file.path(), {}, {},
                 fmt::format("--lock: {}; and flock failed: {}", r.why_not_lease, std::strerror(errno))};
  r.kind = FileLockKind::kFlock;
  return r;
}

void unlock_file(const File& file, FileLockKind kind) {
  if (kind == FileLockKind::kFlock) ::flock(fd_of(file), LOCK_UN);
  give_back_lease(fd_of(file), kind == FileLockKind::kLease);
}

bool lease_break_pending(const File& file) { return lease_broken(fd_of(file)); }

}  // namespace wm
