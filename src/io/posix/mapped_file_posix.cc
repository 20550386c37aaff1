// MappedFile and PrivateRange on POSIX: mmap MAP_SHARED / MAP_PRIVATE.
#include "io/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/memory.h"
#include "io/page_size.h"

namespace wm {

Result<MappedFile> MappedFile::map(std::shared_ptr<const File> file) {
  const std::string& path = file->path();
  if (file->size() == 0) return Error{path, {}, {}, "zero-sized file cannot be mapped"};
  auto permit = MmapPermit::acquire(file->size());
  if (!permit) return Error{path, {}, {}, permit.error().message};
  void* p = ::mmap(nullptr, file->size(), PROT_READ, MAP_SHARED, static_cast<int>(file->native_handle().value), 0);
  if (p == MAP_FAILED) return Error{path, {}, {}, fmt::format("mmap failed: {}", std::strerror(errno))};
  uint64_t size = file->size();
  return MappedFile(std::move(file), static_cast<std::byte*>(p), size, std::move(permit.value()));
}

void MappedFile::unmap() {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  permit_ = MmapPermit();
}

Status MappedFile::lock_in_memory() const {
#if defined(__linux__) && defined(MLOCK_ONFAULT)
  if (::mlock2(data_, size_, MLOCK_ONFAULT) != 0)
    return Error{file_->path(), {}, {}, "mlock failed: " + pin_error_text(errno)};
  return {};
#else
  // No lock-on-fault: mlock pins (and so reads) every page now.
  if (Status s = pin_pages(data_, size_); !s) return Error{file_->path(), {}, {}, s.error().message};
  return {};
#endif
}

Result<MappedView> MappedView::map(const File& file) {
  if (file.size() == 0) return Error{file.path(), {}, {}, "zero-sized file cannot be mapped"};
  void* p = ::mmap(nullptr, file.size(), PROT_READ, MAP_SHARED, static_cast<int>(file.native_handle().value), 0);
  if (p == MAP_FAILED) return Error{file.path(), {}, {}, fmt::format("mmap failed: {}", std::strerror(errno))};
  return MappedView(static_cast<const std::byte*>(p), file.size());
}

MappedView::~MappedView() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

Result<PrivateRange> PrivateRange::map(const File& file, uint64_t offset, uint64_t len) {
  if (len == 0) return Error{file.path(), {}, offset, "empty range cannot be mapped"};
  if (offset > file.size() || len > file.size() - offset)
    return Error{file.path(), {}, offset, fmt::format("range of {} bytes runs past the end of the file", len)};
  uint64_t start = offset / page_size() * page_size();
  uint64_t map_len = offset + len - start;
  void* p = ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, static_cast<int>(file.native_handle().value),
                   static_cast<off_t>(start));
  if (p == MAP_FAILED)
    return Error{file.path(), {}, offset, fmt::format("private mmap failed: {}", std::strerror(errno))};
  return PrivateRange(p, map_len, static_cast<std::byte*>(p) + (offset - start), len);
}

PrivateRange::PrivateRange(PrivateRange&& other) noexcept
    : base_(other.base_), map_len_(other.map_len_), data_(other.data_), len_(other.len_), section_(other.section_) {
  other.base_ = nullptr;
}

PrivateRange::~PrivateRange() {
  if (base_) ::munmap(base_, map_len_);
}

Status PrivateRange::revert() {
  // On a private file mapping MADV_DONTNEED discards the copies; the next
  // read faults the file's bytes back in.
  if (::madvise(base_, map_len_, MADV_DONTNEED) != 0)
    return Error{{}, {}, {}, fmt::format("madvise(MADV_DONTNEED) failed: {}", std::strerror(errno))};
  return {};
}

}  // namespace wm
