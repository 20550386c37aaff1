// MappedFile and PrivateRange on Windows: a file-mapping object
// (CreateFileMappingW) and a view of it. Read-only views (FILE_MAP_READ)
// share the system cache's pages: zero copy. A PrivateRange is a
// FILE_MAP_COPY view of just the patched range: Windows charges a
// copy-on-write view's whole size to the commit limit when it is mapped,
// so a view per range keeps the charge to what LoRA patches, as MAP_PRIVATE
// over the range does on Linux.
#include "io/mapped_file.h"

#include <fmt/format.h>

#include "io/memory.h"
#include "io/windows/win32.h"

namespace wm {

namespace {

uint64_t allocation_granularity() {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwAllocationGranularity;  // 64 KiB: view offsets must be multiples of it
}

// A read-only view of the whole file; the mapping object is closed at once
// (the view keeps it alive).
Result<const std::byte*> map_read_only(const File& file) {
  HANDLE section = CreateFileMappingW(win::handle_of(file.native_handle()), nullptr, PAGE_READONLY, 0, 0, nullptr);
  if (section == nullptr)
    return Error{file.path(), {}, {}, fmt::format("CreateFileMapping failed: {}", win::error_text(GetLastError()))};
  void* p = MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0);
  DWORD err = GetLastError();
  CloseHandle(section);
  if (p == nullptr) return Error{file.path(), {}, {}, fmt::format("MapViewOfFile failed: {}", win::error_text(err))};
  return static_cast<const std::byte*>(p);
}

}  // namespace

Result<MappedFile> MappedFile::map(std::shared_ptr<const File> file) {
  const std::string& path = file->path();
  if (file->size() == 0) return Error{path, {}, {}, "zero-sized file cannot be mapped"};
  auto permit = MmapPermit::acquire(file->size());
  if (!permit) return Error{path, {}, {}, permit.error().message};
  auto p = map_read_only(*file);
  if (!p) return p.error();
  uint64_t size = file->size();
  return MappedFile(std::move(file), const_cast<std::byte*>(*p), size, std::move(permit.value()));
}

void MappedFile::unmap() {
  if (data_) UnmapViewOfFile(data_);
  data_ = nullptr;
  permit_ = MmapPermit();
}

Status MappedFile::lock_in_memory() const {
  // No lock-on-fault on Windows: VirtualLock reads and pins every page now.
  if (Status s = pin_pages(data_, size_); !s) return Error{file_->path(), {}, {}, s.error().message};
  return {};
}

Result<MappedView> MappedView::map(const File& file) {
  if (file.size() == 0) return Error{file.path(), {}, {}, "zero-sized file cannot be mapped"};
  auto p = map_read_only(file);
  if (!p) return p.error();
  return MappedView(*p, file.size());
}

MappedView::~MappedView() {
  if (data_) UnmapViewOfFile(data_);
}

Result<PrivateRange> PrivateRange::map(const File& file, uint64_t offset, uint64_t len) {
  if (len == 0) return Error{file.path(), {}, offset, "empty range cannot be mapped"};
  if (offset > file.size() || len > file.size() - offset)
    return Error{file.path(), {}, offset, fmt::format("range of {} bytes runs past the end of the file", len)};
  const uint64_t granularity = allocation_granularity();
  uint64_t start = offset / granularity * granularity;
  uint64_t map_len = offset + len - start;
  HANDLE section = CreateFileMappingW(win::handle_of(file.native_handle()), nullptr, PAGE_WRITECOPY, 0, 0, nullptr);
  if (section == nullptr)
    return Error{file.path(), {}, offset,
                 fmt::format("CreateFileMapping(PAGE_WRITECOPY) failed: {}", win::error_text(GetLastError()))};
  void* p = MapViewOfFile(section, FILE_MAP_COPY, static_cast<DWORD>(start >> 32), static_cast<DWORD>(start), map_len);
  if (p == nullptr) {
    DWORD err = GetLastError();
    CloseHandle(section);
    return Error{file.path(), {}, offset, fmt::format("MapViewOfFile(FILE_MAP_COPY) failed: {}", win::error_text(err))};
  }
  return PrivateRange(p, map_len, static_cast<std::byte*>(p) + (offset - start), len, win::native(section), start);
}

PrivateRange::PrivateRange(PrivateRange&& other) noexcept
    : base_(other.base_), map_len_(other.map_len_), data_(other.data_), len_(other.len_), section_(other.section_),
      view_offset_(other.view_offset_) {
  other.base_ = nullptr;
  other.section_ = {};
}

PrivateRange::~PrivateRange() {
  if (base_) UnmapViewOfFile(base_);
  if (section_.valid()) CloseHandle(win::handle_of(section_));
}

Status PrivateRange::revert() {
  // Windows cannot discard a view's private copies in place: the view is
  // unmapped and mapped again from the same mapping object, at the same
  // address (data() must not move), which drops every copied page.
  if (!UnmapViewOfFile(base_))
    return Error{{}, {}, {}, fmt::format("revert: UnmapViewOfFile failed: {}", win::error_text(GetLastError()))};
  void* p = MapViewOfFileEx(win::handle_of(section_), FILE_MAP_COPY, static_cast<DWORD>(view_offset_ >> 32),
                            static_cast<DWORD>(view_offset_), map_len_, base_);
  if (p == nullptr) {
    DWORD err = GetLastError();
    base_ = nullptr;  // gone: another mapping took the address between the two calls
    return Error{{}, {}, view_offset_,
                 fmt::format("revert: the range could not be mapped again at its address: {}", win::error_text(err))};
  }
  return {};
}

}  // namespace wm
