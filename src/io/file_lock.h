// Opt-in protection of model files while they are loaded (--lock,
// LoadOptions::lock_files). Preferred: a read lease (fcntl F_SETLEASE
// F_RDLCK). Another process that then opens the file for writing or
// truncates it is held up to /proc/sys/fs/lease-break-time seconds (45 by
// default) and this process is told, so LoadedModel::check_files() fails naming
// the file before anything reads pages that are about to change. When the
// kernel refuses a lease (the file belongs to another user and the process
// lacks CAP_LEASE, or the file is open for writing somewhere), a shared
// flock(2) instead, which holds off only writers that take flock too. Both
// end when the descriptor is closed (LoadedModel::release). Leases are
// Linux-only (Capability::kFileLease): elsewhere POSIX takes the flock
// (why_not_lease says so), Windows a shared LockFileEx on the handle.
#pragma once

#include <string>

#include "common/error.h"
#include "io/file.h"

namespace wm {

enum class FileLockKind { kNone, kLease, kFlock };
const char* file_lock_name(FileLockKind kind);

struct FileLockResult {
  FileLockKind kind = FileLockKind::kNone;
  std::string why_not_lease;  // when kind != kLease: the kernel's answer, for the log
};

// Takes a lease, else a shared flock (non-blocking). Fails when neither
// can be had (a writer holds an exclusive flock, say), naming the file.
Result<FileLockResult> lock_file(const File& file);

// Gives the lease or flock back (before the descriptor closes, so that a
// later user of the descriptor number is not taken for ours).
void unlock_file(const File& file, FileLockKind kind);

// Whether a writer has asked to break the lease held on `file` (it is
// waiting to write or truncate). Always false without a lease.
bool lease_break_pending(const File& file);

}  // namespace wm
