#include "load/tensor_source.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>

#include "dtype/convert.h"
#include "format/byte_source.h"
#include "load/source_transform.h"

namespace wm {
namespace {

using Clock = std::chrono::steady_clock;
uint64_t ns_since(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::nanoseconds(Clock::now() - t).count());
}

bool aligned(const std::byte* p, uint64_t align) { return reinterpret_cast<uintptr_t>(p) % align == 0; }

}  // namespace

std::span<std::byte> TensorSource::Worker::buffer(uint64_t n, uint64_t align) {
  if (buffer_.size() < n + align) buffer_.resize(n + align);
  auto at = reinterpret_cast<uintptr_t>(buffer_.data());
  uintptr_t start = (at + align - 1) / align * align;
  return {buffer_.data() + (start - at), n};
}

TensorSource::TensorSource(const TensorTable& table, std::vector<std::shared_ptr<const File>> files, IoMode io,
                           const Logger& log, const std::vector<bool>& wanted)
    : table_(&table), files_(std::move(files)), mode_(io), log_(log) {
  if (mode_ != IoMode::kDirect) return;
  direct_.resize(files_.size());
  for (size_t f = 0; f < files_.size(); ++f) {
    if (!wanted.empty() && (f >= wanted.size() || !wanted[f])) continue;
    auto d = DirectFile::open(*files_[f]);
    if (!d) {
      log_.warn(fmt::format("{}; reading '{}' buffered instead", d.error().message, files_[f]->path()));
      continue;
    }
    // Aligning both ends of a read can add up to one block at each end.
    bounce_overhead_ = std::max<uint64_t>(bounce_overhead_, 2ull * std::max(d->offset_align(), d->memory_align()));
    memory_align_ = std::max<uint64_t>(memory_align_, d->memory_align());
    log_.debug(fmt::format("O_DIRECT on '{}': offset alignment {}, memory alignment {} (from {})", files_[f]->path(),
                           d->offset_align(), d->memory_align(), d->align_source()));
    direct_[f] = std::move(d.value());
  }
}

TensorSource::Worker TensorSource::make_worker() const {
  if (mode_ != IoMode::kUring || *uring_failed_) return Worker();
  auto ring = UringReader::create(4, 1ull << 20);
  if (!ring) {
    if (!uring_failed_->exchange(true)) log_.warn(fmt::format("{}; reading with pread instead", ring.error().message));
    return Worker();
  }
  return Worker(std::move(ring.value()));
}

Error TensorSource::error_at(size_t i, uint64_t offset, std::string message) const {
  const TensorInfo& t = table_->tensors()[i];
  return Error{table_->files()[t.file].path, t.name, offset, std::move(message)};
}

Result<const std::byte*> TensorSource::read_source(Worker& w, size_t i, uint64_t first_block, uint64_t n_blocks,
                                                   std::span<std::byte> room) const {
  const TensorInfo& t = table_->tensors()[i];
  const uint64_t block = dtype_info(t.dtype).block_bytes;
  const uint64_t offset = t.offset + first_block * block, len = n_blocks * block;
  if (t.source.whole_only()) return error_at(i, t.offset, "a PyTorch view or deflated entry is read whole (read())");
  if (room.size() < len + (bounces(t.file) ? bounce_overhead_ : 0))
    return error_at(i, offset, fmt::format("{} bytes of room for a read of {}", room.size(), len));
  auto t0 = Clock::now();
  if (t.source.gather) {
    Status s = read_gathered(i, first_block * block, room.first(len));
    w.add_read_ns(ns_since(t0));
    if (!s) return s.error();
    return static_cast<const std::byte*>(room.data());
  }
  Result<const std::byte*> at = static_cast<const std::byte*>(room.data());
  if (bounces(t.file)) {
    at = direct_[t.file]->read(offset, len, room);
  } else {
    const File& file = *files_[t.file];
    UringReader* ring = w.uring();
    Status s = ring ? ring->read(file.native_handle(), file.path(), offset, room.first(len))
                    : file.read_exact(offset, room.first(len));
    if (!s) at = s.error();
  }
  w.add_read_ns(ns_since(t0));
  if (!at) {
    Error e = at.error();
    e.tensor = t.name;
    return e;
  }
  return at;
}

Status TensorSource::read_gathered(size_t i, uint64_t at, std::span<std::byte> dst) const {
  const TensorInfo& t = table_->tensors()[i];
  const SourceLayout::Gather& g = *t.source.gather;
  const File& file = *files_[t.file];
  // Output bytes [at, at + dst.size()) walk the output rows; each row is a
  // file segment (rows below src_rows) followed by zeros. Buffered pread:
  // segments are too small and scattered for O_DIRECT's alignment to pay.
  uint64_t done = 0;
  while (done < dst.size()) {
    const uint64_t pos = at + done, row = pos / g.out_row_bytes, in_row = pos % g.out_row_bytes;
    const uint64_t n = std::min<uint64_t>(g.out_row_bytes - in_row, dst.size() - done);
    const uint64_t from_file = row < g.src_rows && in_row < g.row_bytes ? std::min(n, g.row_bytes - in_row) : 0;
    if (from_file) {
      const uint64_t offset = t.offset + row * g.row_stride + in_row;
      if (Status s = file.read_exact(offset, dst.subspan(done, from_file)); !s) {
        Error e = s.error();
        e.tensor = t.name;
        return e;
      }
    }
    std::memset(dst.data() + done + from_file, 0, n - from_file);
    done += n;
  }
  return {};
}

Status TensorSource::convert_into(Worker& w, size_t i, DType to, uint64_t offset, const std::byte* from,
                                  uint64_t elems, std::span<std::byte> dst) const {
  const TensorInfo& t = table_->tensors()[i];
  auto t0 = Clock::now();
  uint64_t bad = convert(t.dtype, to, from, dst.data(), elems);
  w.add_convert_ns(ns_since(t0));
  if (bad) return error_at(i, offset, fmt::format("{} values do not fit {} (out of range)", bad, dtype_name(to)));
  return {};
}

Status TensorSource::read(Worker& w, size_t i, DType to, uint64_t first_block, uint64_t n_blocks,
                          std::span<std::byte> dst, std::span<std::byte> scratch) const {
  if (i >= table_->tensors().size())
    return Error{{}, {}, {}, fmt::format("tensor {} of {}", i, table_->tensors().size()), ErrorCode::kInvalidArgument};
  const TensorInfo& t = table_->tensors()[i];
  const DTypeInfo& s = dtype_info(t.dtype);
  if (to != t.dtype && !can_convert(t.dtype, to))
    return error_at(i, t.offset, fmt::format("no conversion from {} to {}", dtype_name(t.dtype), dtype_name(to)));
  const uint64_t blocks = t.nbytes / s.block_bytes;
  if (first_block > blocks || n_blocks > blocks - first_block)
    return error_at(i, t.offset, fmt::format("blocks [{}, +{}) are outside the tensor's {}", first_block, n_blocks,
                                             blocks));
  if (dst.size() != converted_bytes(t.dtype, to, n_blocks))
    return error_at(i, t.offset, fmt::format("destination holds {} bytes, {} {} blocks as {} need {}", dst.size(),
                                             n_blocks, dtype_name(t.dtype), dtype_name(to),
                                             converted_bytes(t.dtype, to, n_blocks)));
  if (n_blocks == 0) return {};
  if (t.source.whole_only()) {
    if (first_block != 0 || n_blocks != blocks)
      return error_at(i, t.offset, "a PyTorch view or deflated entry is read whole, not in blocks");
    return read_whole_transformed(w, i, to, dst, scratch);
  }
  const uint64_t offset = t.offset + first_block * s.block_bytes, len = n_blocks * s.block_bytes;
  if (to == t.dtype && !bounces(t.file)) {  // straight into place
    auto r = read_source(w, i, first_block, n_blocks, dst);
    return r ? Status() : Status(r.error());
  }
  const uint64_t need = len + (bounces(t.file) ? bounce_overhead_ : 0);
  const uint64_t align = bounces(t.file) ? memory_align_ : 1;
  std::span<std::byte> room = scratch.size() >= need && aligned(scratch.data(), align) ? scratch : w.buffer(need, align);
  auto from = read_source(w, i, first_block, n_blocks, room);
  if (!from) return from.error();
  if (to == t.dtype) {
    std::memcpy(dst.data(), *from, len);
    return {};
  }
  return convert_into(w, i, to, offset, *from, n_blocks * s.block_elems, dst);
}

Status TensorSource::read_whole_transformed(Worker& w, size_t i, DType to, std::span<std::byte> dst,
                                            std::span<std::byte> scratch) const {
  const TensorInfo& t = table_->tensors()[i];
  FileSource file(*files_[t.file]);
  auto t0 = Clock::now();
  if (to == t.dtype) {
    Status s = read_transformed(file, t, dst);
    w.add_read_ns(ns_since(t0));
    return s;
  }
  std::span<std::byte> raw = scratch.size() >= t.nbytes ? scratch.first(t.nbytes) : w.buffer(t.nbytes, 1);
  Status s = read_transformed(file, t, raw);
  w.add_read_ns(ns_since(t0));
  if (!s) return s;
  return convert_into(w, i, to, t.offset, raw.data(), elements_in(t.dtype, t.nbytes), dst);
}

Result<std::vector<std::byte>> TensorSource::read_all(size_t i, DType to) const {
  if (i >= table_->tensors().size())
    return Error{{}, {}, {}, fmt::format("tensor {} of {}", i, table_->tensors().size()), ErrorCode::kInvalidArgument};
  const TensorInfo& t = table_->tensors()[i];
  const uint64_t blocks = t.nbytes / dtype_info(t.dtype).block_bytes;
  std::vector<std::byte> out(converted_bytes(t.dtype, to, blocks));
  Worker w;  // one call: pread, no ring to set up
  if (Status s = read(w, i, to, 0, blocks, out); !s) return s.error();
  return out;
}

}  // namespace wm
