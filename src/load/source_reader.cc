#include "load/source_reader.h"

#include <algorithm>
#include <fmt/format.h>

namespace wm {

SourceReader::SourceReader(IoMode mode, const std::vector<std::shared_ptr<const File>>& files,
                           const std::vector<bool>& wanted, const Logger& log)
    : mode_(mode), files_(&files), log_(log) {
  if (mode_ != IoMode::kDirect) return;
  direct_.resize(files.size());
  for (size_t f = 0; f < files.size(); ++f) {
    if (f >= wanted.size() || !wanted[f]) continue;
    auto d = DirectFile::open(*files[f]);
    if (!d) {
      log_.warn(fmt::format("{}; reading '{}' buffered instead", d.error().message, files[f]->path()));
      continue;
    }
    // Aligning both ends of a chunk can add up to one block at each end.
    bounce_overhead_ = std::max<uint64_t>(bounce_overhead_, 2ull * std::max(d->offset_align(), d->memory_align()));
    log_.debug(fmt::format("O_DIRECT on '{}': offset alignment {}, memory alignment {} (from {})", files[f]->path(),
                           d->offset_align(), d->memory_align(), d->align_source()));
    direct_[f] = std::move(d.value());
  }
}

SourceReader::Worker SourceReader::make_worker() {
  Worker w;
  if (mode_ != IoMode::kUring || uring_failed_) return w;
  auto ring = UringReader::create(4, 1ull << 20);
  if (!ring) {
    uring_failed_ = true;
    log_.warn(fmt::format("{}; reading with pread instead", ring.error().message));
    return w;
  }
  w.uring = std::move(ring.value());
  return w;
}

Result<const std::byte*> SourceReader::read(Worker& worker, uint32_t f, uint64_t offset, uint64_t len, std::byte* dst,
                                            std::span<std::byte> bounce) const {
  if (bounces(f)) return direct_[f]->read(offset, len, bounce);
  const File& file = *(*files_)[f];
  Status s = worker.uring ? worker.uring->read(file.fd(), file.path(), offset, {dst, len})
                          : file.read_exact(offset, {dst, len});
  if (!s) return s.error();
  return static_cast<const std::byte*>(dst);
}

}  // namespace wm
