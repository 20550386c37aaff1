// DirectFile on Windows: a second handle opened with
// FILE_FLAG_NO_BUFFERING, which bypasses the system cache and needs
// offsets, lengths and buffer addresses aligned to the volume's sector size
// (GetFileInformationByHandleEx(FileStorageInfo), else GetDiskFreeSpaceW).
#include "io/direct_file.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/windows/win32.h"

namespace wm {

namespace {

// The physical sector size for performance (what unbuffered I/O must be a
// multiple of), or 0 when the volume does not say.
uint32_t sector_size(HANDLE h, const std::wstring& path) {
  FILE_STORAGE_INFO storage{};
  if (GetFileInformationByHandleEx(h, FileStorageInfo, &storage, sizeof storage))
    return std::max<uint32_t>(storage.PhysicalBytesPerSectorForPerformance, storage.LogicalBytesPerSector);
  // Older systems (and wine): the volume root's sector size.
  wchar_t root[MAX_PATH] = {};
  if (!GetVolumePathNameW(path.c_str(), root, MAX_PATH)) return 0;
  DWORD sectors_per_cluster = 0, bytes_per_sector = 0, free_clusters = 0, clusters = 0;
  if (!GetDiskFreeSpaceW(root, &sectors_per_cluster, &bytes_per_sector, &free_clusters, &clusters)) return 0;
  return bytes_per_sector;
}

}  // namespace

Result<DirectFile> DirectFile::open(const File& file) {
  std::wstring wide = win::long_path(file.path());
  HANDLE h = CreateFileW(wide.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_EXISTING, FILE_FLAG_NO_BUFFERING, nullptr);
  if (h == INVALID_HANDLE_VALUE)
    return Error{file.path(), {}, {},
                 fmt::format("cannot open with FILE_FLAG_NO_BUFFERING: {}", win::error_text(GetLastError()))};
  uint32_t sector = sector_size(h, wide);
  // Unknown: 4 KiB covers every sector size in use (512, 4096).
  uint32_t align = std::max<uint32_t>(sector, 4096);
  if (align & (align - 1)) {
    CloseHandle(h);
    return Error{file.path(), {}, {}, fmt::format("the volume's sector size {} is not a power of two", align)};
  }
  return DirectFile(file, win::native(h), align, align, "sector size");
}

DirectFile::DirectFile(DirectFile&& other) noexcept
    : path_(std::move(other.path_)), size_(other.size_), handle_(other.handle_), offset_align_(other.offset_align_),
      memory_align_(other.memory_align_), align_source_(other.align_source_) {
  other.handle_ = {};
}

DirectFile& DirectFile::operator=(DirectFile&& other) noexcept {
  if (this != &other) {
    if (handle_.valid()) CloseHandle(win::handle_of(handle_));
    path_ = std::move(other.path_);
    size_ = other.size_;
    handle_ = other.handle_;
    offset_align_ = other.offset_align_;
    memory_align_ = other.memory_align_;
    align_source_ = other.align_source_;
    other.handle_ = {};
  }
  return *this;
}

DirectFile::~DirectFile() {
  if (handle_.valid()) CloseHandle(win::handle_of(handle_));
}

}  // namespace wm
