#include "load/cache_window.h"

#include <algorithm>

#include "io/page_cache.h"

namespace wm {

void CacheWindow::consumed(const File& file, uint64_t offset, uint64_t len) {
  if (!enabled() || len == 0) return;
  std::lock_guard lock(mu_);
  pending_.push_back({&file, offset, len});
  pending_bytes_ += len;
  if (pending_bytes_ >= window_ / 2) drop_locked();
}

void CacheWindow::flush() {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  drop_locked();
}

uint64_t CacheWindow::dropped_bytes() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void CacheWindow::drop_locked() {
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
    // Failing to drop cache is harmless to the load: the kernel reclaims it
    // later anyway. So the status is ignored.
    (void)evict_range(*r.file, r.offset, r.len);
    dropped_ += r.len;
  }
  pending_.clear();
  pending_bytes_ = 0;
}

}  // namespace wm
