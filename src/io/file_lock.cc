// The platform-neutral part of io/file_lock.h.
#include "io/file_lock.h"

namespace wm {

const char* file_lock_name(FileLockKind kind) {
  switch (kind) {
    case FileLockKind::kNone: return "none";
    case FileLockKind::kLease: return "lease";
    case FileLockKind::kFlock: return "flock";
  }
  return "?";
}

}  // namespace wm
