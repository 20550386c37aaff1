#include "load/model.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include "io/page_cache.h"

namespace wm {

const LoadedTensor* Model::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Model::~Model() { (void)release(evict_on_release_); }

Status Model::wait_ready(size_t index) const {
  if (!prefetcher_ || index >= prefetch_span_.size() || prefetch_span_[index] == SIZE_MAX) return {};
  Status s = prefetcher_->wait(prefetch_span_[index]);
  if (s || !s.error().tensor.empty() || index >= tensors_.size()) return s;
  Error e = s.error();  // the prefetcher knows file ranges, not tensors: name the one waited for
  e.tensor = tensors_[index].name;
  return e;
}

Status Model::check_files() const {
  for (size_t f = 0; f < files_.size(); ++f)
    if (Status s = check_file(f); !s) return s;
  return {};
}

Status Model::check_file(size_t f) const {
  if (f >= files_.size()) return {};
  if (Status s = files_[f]->check_unchanged(); !s) return s;
  if (f < locks_.size() && locks_[f] == FileLockKind::kLease && lease_break_pending(*files_[f]))
    return Error{files_[f]->path(), {}, {},
                 "another process is waiting to write or truncate this file (it broke our --lock lease and is "
                 "held until the model is released, or lease-break-time runs out): release the model"};
  return {};
}

Error Model::mapped_fault(size_t index, const std::byte* addr, std::string_view during) const {
  const LoadedTensor& t = tensors_[index];
  const auto& path = table_.files[t.file].path;
  uint64_t offset = t.file_offset + static_cast<uint64_t>(addr - t.host_data);
  Status changed = t.file < files_.size() ? files_[t.file]->check_unchanged() : Status();
  return Error{path, t.name, offset,
               fmt::format("{}: the mapped page at this offset can no longer be read ({})", during,
                           changed ? "the file was truncated under the mapping" : changed.error().message)};
}

PrefetchStats Model::prefetch_stats() const { return prefetcher_ ? prefetcher_->stats() : PrefetchStats{}; }

Status Model::release(bool evict) {
  evict = evict || evict_on_release_;
  prefetcher_.reset();  // joins its workers before the mappings go
  prefetch_span_.clear();
  lora_.reset();  // LoRA: its private ranges and factors
  tensors_.clear();
  by_name_.clear();
  // free() may keep small buffers in the heap: unpin them first.
  for (auto [addr, len] : pinned_copies_) ::munlock(addr, len);
  pinned_copies_.clear();
  host_buffers_.clear();
  if (sim_) sim_->free_all();
  mappings_.clear();
  Status first;
  if (evict)
    for (const auto& f : files_)
      if (Status s = evict_file(*f); !s && first) first = s;
  for (size_t f = 0; f < locks_.size() && f < files_.size(); ++f)
    if (locks_[f] != FileLockKind::kNone) unlock_file(*files_[f], locks_[f]);
  locks_.clear();
  files_.clear();
  evict_on_release_ = false;
  return first;
}

}  // namespace wm
