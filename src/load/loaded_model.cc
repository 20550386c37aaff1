#include "load/loaded_model.h"

#include <cstring>
#include <fmt/format.h>

#include "io/memory.h"
#include "io/page_cache.h"
#include "io/process_memory.h"

namespace wm {

const Tensor* LoadedModel::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

LoadedModel::LoadedModel(Parts parts)
    : table_(std::move(parts.table)),
      tensors_(std::move(parts.placed.tensors)),
      writable_(std::move(parts.placed.writable)),
      files_(std::move(parts.files)),
      device_objects_(std::move(parts.devices)),
      buffers_(std::move(parts.placed.buffers)),
      pinned_copies_(std::move(parts.pinned.copies)),
      prefetcher_(std::move(parts.hints.prefetcher)),
      prefetch_span_(std::move(parts.hints.span_of_tensor)),
      evict_on_release_(parts.hints.evict_on_release),
      report_(std::move(parts.report)) {
  for (const auto& d : device_objects_) devices_.push_back(d->caps());
  by_name_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

LoadedModel::~LoadedModel() { (void)release(evict_on_release_); }

void LoadedModel::redirect_mapped(size_t index, const std::byte* data) { tensors_[index].host_data = data; }

void LoadedModel::advance_generation(const std::vector<size_t>& tensors) {
  ++generation_;
  for (size_t i : tensors) tensors_[i].generation = generation_;
}

Status LoadedModel::wait_ready(size_t index) const {
  if (!prefetcher_ || index >= prefetch_span_.size() || prefetch_span_[index] == SIZE_MAX) return {};
  Status s = prefetcher_->wait(prefetch_span_[index]);
  if (s || !s.error().tensor.empty() || index >= tensors_.size()) return s;
  Error e = s.error();  // the prefetcher knows file ranges, not tensors: name the one waited for
  e.tensor = tensors_[index].name;
  return e;
}

Status LoadedModel::check_files() const {
  for (size_t f = 0; f < files_.files.size(); ++f)
    if (Status s = check_file(f); !s) return s;
  return {};
}

Status LoadedModel::check_file(size_t f) const {
  if (f >= files_.files.size()) return {};
  const File& file = *files_.files[f];
  if (Status s = file.check_unchanged(); !s) return s;
  if (f < files_.locks.size() && files_.locks[f] == FileLockKind::kLease && lease_break_pending(file))
    return Error{file.path(), {}, {},
                 "another process is waiting to write or truncate this file (it broke our --lock lease and is "
                 "held until the model is released, or lease-break-time runs out): release the model"};
  return {};
}

Error LoadedModel::mapped_fault(size_t index, const std::byte* addr, std::string_view during) const {
  const Tensor& t = tensors_[index];
  const auto& path = table_.files()[t.file].path;
  uint64_t offset = t.file_offset + static_cast<uint64_t>(addr - t.host_data);
  Status changed = t.file < files_.files.size() ? files_.files[t.file]->check_unchanged() : Status();
  return Error{path, t.name, offset,
               fmt::format("{}: the mapped page at this offset can no longer be read ({})", during,
                           changed ? "the file was truncated under the mapping" : changed.error().message)};
}

Status LoadedModel::read_bytes(size_t index, uint64_t offset, std::byte* dst, uint64_t n) const {
  const Tensor& t = tensors_[index];
  if (offset > t.nbytes || n > t.nbytes - offset)
    return Error{table_.files()[t.file].path, t.name, {},
                 fmt::format("read of {} bytes at {} is outside the tensor's {} bytes", n, offset, t.nbytes),
                 ErrorCode::kInvalidArgument};
  if (n == 0) return {};
  if (t.host_data) {
    std::memcpy(dst, t.host_data + offset, n);
    return {};
  }
  if (Status s = device_objects_[t.device]->download(t.device_buffer, offset, dst, n); !s) {
    Error e = with_code(s.error(), ErrorCode::kDevice);
    if (e.tensor.empty()) e.tensor = t.name;
    return e;
  }
  return {};
}

void LoadedModel::refresh_memory() { report_.memory = read_process_memory(); }

PrefetchStats LoadedModel::prefetch_stats() const { return prefetcher_ ? prefetcher_->stats() : PrefetchStats{}; }

Status LoadedModel::release(bool evict) {
  evict = evict || evict_on_release_;
  prefetcher_.reset();  // joins its workers before the mappings go
  prefetch_span_.clear();
  lora_.reset();  // LoRA: its private ranges and factors
  tensors_.clear();
  by_name_.clear();
  // free() may keep small buffers in the heap: unpin them first.
  for (auto [addr, len] : pinned_copies_) unpin_pages(addr, len);
  pinned_copies_.clear();
  // Uploads still queued read from buffers about to go: wait for them.
  for (const auto& d : device_objects_)
    if (d) (void)d->synchronize();
  buffers_.free_all();  // the devices themselves stay: they hold nothing of the model now
  writable_.clear();
  files_.mappings.clear();
  Status first;
  if (evict)
    for (const auto& f : files_.files)
      if (Status s = evict_file(*f); !s && first) first = s;
  files_.unlock();
  files_.files.clear();
  evict_on_release_ = false;
  return first;
}

}  // namespace wm
