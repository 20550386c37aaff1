#include "io/prefetch.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/page_size.h"
#include "io/platform.h"

namespace wm {

Prefetcher::Prefetcher(std::vector<PrefetchSpan> spans, PrefetchOptions options) : options_(std::move(options)) {
  const uint64_t page = page_size();
  const uint64_t max_chunk = std::max<uint64_t>(options_.chunk_bytes / page * page, page);
  use_pread_ = options_.force_pread;
  // Chunks cover whole pages; a span's first and last pages may be shared
  // with its neighbours, so adjacent spans of one file merge into one chunk
  // until it is full, and a gap of padding (under a page) is read through.
  for (const PrefetchSpan& s : spans) {
    if (s.len == 0) {
      span_chunks_.emplace_back(chunks_.size(), chunks_.size() - 1);  // empty: nothing to wait for
      continue;
    }
    uintptr_t lo = reinterpret_cast<uintptr_t>(s.addr) / page * page;
    uintptr_t hi = (reinterpret_cast<uintptr_t>(s.addr) + s.len + page - 1) / page * page;
    uint64_t lo_file = s.file_offset - (reinterpret_cast<uintptr_t>(s.addr) - lo);
    size_t first = chunks_.size();
    if (!chunks_.empty()) {
      Chunk& c = chunks_.back();
      uintptr_t c_hi = reinterpret_cast<uintptr_t>(c.addr) + c.len;
      if (c.file == s.file && lo >= reinterpret_cast<uintptr_t>(c.addr) && lo <= c_hi + page && c.len < max_chunk) {
        first = chunks_.size() - 1;
        if (hi > c_hi) {
          uint64_t grow = std::min<uint64_t>(hi - c_hi, max_chunk - std::min(max_chunk, c.len));
          c.len += grow;
          c_hi += grow;
        }
        lo = std::max(lo, c_hi);
        lo_file = c.file_offset + (lo - reinterpret_cast<uintptr_t>(c.addr));
      }
    }
    while (lo < hi) {
      uint64_t len = std::min<uint64_t>(hi - lo, max_chunk);
      chunks_.push_back({reinterpret_cast<const std::byte*>(lo), len, s.file, lo_file});
      lo += len;
      lo_file += len;
    }
    span_chunks_.emplace_back(first, chunks_.size() - 1);
  }
  for (const Chunk& c : chunks_) bytes_ += c.len;
  state_ = std::make_unique<std::atomic<uint8_t>[]>(chunks_.size());
  chunk_error_.resize(chunks_.size());
  start_ = std::chrono::steady_clock::now();
  unsigned n = std::min<unsigned>(std::max(options_.workers, 1u), static_cast<unsigned>(std::max<size_t>(chunks_.size(), 1)));
  options_.workers = n;
  if (chunks_.empty()) {
    seconds_ = 0;
    return;
  }
  advise_regions(AccessAdvice::kSequential);
  for (unsigned w = 0; w < n; ++w) threads_.emplace_back([this] { work(); });
}

Prefetcher::~Prefetcher() { stop(); }

void Prefetcher::advise_regions(AccessAdvice advice) {
  // A hint only: a failure costs speed, never correctness, so it is logged.
  if (options_.sequential_regions.empty()) return;
  if (!supports(Capability::kAccessHints)) {
    if (advice != AccessAdvice::kNormal)
      options_.log.debug(fmt::format("prefetch: no read-ahead advice ({}); the OS's default read-ahead applies",
                                     unsupported_reason(Capability::kAccessHints)));
    return;
  }
  for (auto [addr, len] : options_.sequential_regions)
    if (Status s = advise_memory(addr, len, advice); !s) options_.log.debug("prefetch: " + s.error().message);
}

void Prefetcher::stop() {
  stop_ = true;
  bool joined = false;
  for (auto& t : threads_)
    if (t.joinable()) {
      t.join();
      joined = true;
    }
  if (joined && finished_.load() != chunks_.size()) advise_regions(AccessAdvice::kNormal);  // stopped early
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void Prefetcher::work() {
  std::vector<std::byte> scratch;
  for (size_t k; !stop_ && (k = next_.fetch_add(1)) < chunks_.size();) {
    Status s = populate(chunks_[k], scratch);
    std::lock_guard lock(mu_);
    state_[k] = s ? kDone : kFailed;
    if (!s) chunk_error_[k] = s.error();
    if (++finished_ == chunks_.size()) {
      seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      advise_regions(AccessAdvice::kNormal);
    }
    cv_.notify_all();
  }
}

Status Prefetcher::populate(const Chunk& c, std::vector<std::byte>& scratch) {
  if (use_pread_) return read_in(c, scratch);
  Status s = populate_read(c.addr, c.len);
  if (s) return {};
  switch (s.error().code) {
    case ErrorCode::kUnsupported:  // kernel or OS without it
      if (!use_pread_.exchange(true))
        options_.log.info(fmt::format("prefetch: {}; reading into the page cache instead", s.error().message));
      return read_in(c, scratch);
    case ErrorCode::kChangedOnDisk:
      return Error{c.file->path(), {}, c.file_offset,
                   fmt::format("cannot read {} bytes of the mapping: the file is shorter than when it was mapped "
                               "(truncated or replaced while in use?)",
                               c.len),
                   ErrorCode::kChangedOnDisk};
    default:
      return Error{c.file->path(), {}, c.file_offset, s.error().message};
  }
}

Status Prefetcher::read_in(const Chunk& c, std::vector<std::byte>& scratch) {
  // The chunk's last page may run past the end of the file: read what exists.
  uint64_t len = c.file_offset >= c.file->size() ? 0 : std::min(c.len, c.file->size() - c.file_offset);
  constexpr uint64_t kPiece = 1ull << 20;
  scratch.resize(std::min(len, kPiece));
  for (uint64_t done = 0; done < len;) {
    uint64_t n = std::min(kPiece, len - done);
    if (Status s = c.file->read_exact(c.file_offset + done, {scratch.data(), n}); !s) return s;
    done += n;
  }
  return {};
}

Status Prefetcher::wait_chunks(size_t first, size_t last) {
  std::unique_lock lock(mu_);
  for (size_t k = first; k <= last && k < chunks_.size(); ++k) {
    cv_.wait(lock, [&] { return state_[k] != kPending || stop_; });
    if (state_[k] == kFailed) return *chunk_error_[k];
    if (state_[k] == kPending)
      return Error{chunks_[k].file->path(), {}, chunks_[k].file_offset, "prefetch was stopped before this range was read"};
  }
  return {};
}

Status Prefetcher::wait(size_t index) {
  if (index >= span_chunks_.size()) return {};
  auto [first, last] = span_chunks_[index];
  if (last < first || last == static_cast<size_t>(-1)) return {};
  return wait_chunks(first, last);
}

Status Prefetcher::wait_all() {
  if (chunks_.empty()) return {};
  return wait_chunks(0, chunks_.size() - 1);
}

PrefetchStats Prefetcher::stats() const {
  std::lock_guard lock(mu_);
  PrefetchStats s;
  s.bytes = bytes_;
  s.chunks = chunks_.size();
  s.workers = options_.workers;
  s.done = finished_.load() == chunks_.size();
  s.seconds = seconds_;
  s.method = use_pread_ ? "pread" : "madvise(MADV_POPULATE_READ)";
  return s;
}

}  // namespace wm
