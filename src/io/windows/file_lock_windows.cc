// File locks on Windows: a shared LockFileEx over the whole file. It holds
// off every writer (Windows locks are mandatory: WriteFile into a locked
// range fails), a stronger promise than flock's. There is no lease (no
// notice before another process writes), so lease_break_pending is false.
// Truncating a file with a mapped view is refused by Windows itself. The
// kind is reported as kFlock (a shared lock), named "flock" in reports.
#include "io/file_lock.h"

#include <fmt/format.h>

#include "io/windows/win32.h"

namespace wm {

Result<FileLockResult> lock_file(const File& file) {
  FileLockResult r;
  r.why_not_lease = "no lease: file leases (F_SETLEASE) are Linux-only; a shared LockFileEx instead";
  OVERLAPPED ov{};  // offset 0: the lock covers the whole file (and any growth)
  if (!LockFileEx(win::handle_of(file.native_handle()), LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD, &ov))
    return Error{file.path(), {}, {}, fmt::format("--lock: LockFileEx failed: {}", win::error_text(GetLastError()))};
  r.kind = FileLockKind::kFlock;
  return r;
}

void unlock_file(const File& file, FileLockKind kind) {
  if (kind != FileLockKind::kFlock) return;
  OVERLAPPED ov{};
  UnlockFileEx(win::handle_of(file.native_handle()), 0, MAXDWORD, MAXDWORD, &ov);
}

bool lease_break_pending(const File&) { return false; }

}  // namespace wm
