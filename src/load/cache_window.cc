#include "load/cache_window.h"

#include <algorithm>

#include "io/page_cache.h"

namespace wm {

void CacheWindow::consumed(const File& file, uint64_t offset, uint64_t len) {
  if (!enabled() || len == 0) return;
  std::lock_guard lock(mu_);
  pending_.push_back({&file, offset, len});
  pending_bytes_ += len;
  if (pending_bytes_ >= window_ / 2) drop_locked(false);
}

void CacheWindow::flush() {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  drop_locked(true);
}

std::optional<Error> CacheWindow::first_error() const {
  std::lock_guard lock(mu_);
  return error_;
}

uint64_t CacheWindow::dropped_bytes() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void CacheWindow::drop_locked(bool final) {
  // Adjacent ranges merge first: fadvise only drops whole pages inside a
  // range, so dropping chunk by chunk would leave each boundary page behind.
  std::sort(pending_.begin(), pending_.end(), [](const Range& a, const Range& b) {
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  for (size_t i = 0; i < pending_.size();) {
    Range r = pending_[i++];
    while (i < pending_.size() && pending_[i].file == r.file && pending_[i].offset <= r.offset + r.len) {
      r.len = std::max(r.len, pending_[i].offset + pending_[i].len - r.offset);
      ++i;
    }
    // The page cache holds large folios (up to 2 MiB) and fadvise skips a
    // folio the range only partly covers, so a range's start is rounded
    // down to a folio boundary (the bytes below were consumed before: chunks
    // go in file order) and its end down too (the rest goes with the next
    // range), except at the end of the load, when it is rounded up.
    uint64_t lo = r.offset / kFolio * kFolio;
    uint64_t hi = final ? (r.offset + r.len + kFolio - 1) / kFolio * kFolio : (r.offset + r.len) / kFolio * kFolio;
    if (hi > lo) {
      if (Status s = evict_range(*r.file, lo, hi - lo); !s && !error_) error_ = s.error();
    }
    dropped_ += r.len;
  }
  pending_.clear();
  pending_bytes_ = 0;
}

}  // namespace wm
