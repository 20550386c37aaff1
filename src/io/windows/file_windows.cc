// File on Windows: CreateFileW (UTF-8 path widened, \\?\ long form), shared
// for reading, writing and deletion so a file another process has open (or
// renames) can still be loaded, as on POSIX. Identity from
// GetFileInformationByHandle: volume serial and file index play st_dev and
// st_ino.
#include "io/file.h"

#include <fmt/format.h>

#include "io/windows/win32.h"

namespace wm {

namespace {

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

// FILETIME counts 100 ns since 1601; only equality matters, so no epoch shift.
FileIdentity identity_of(const BY_HANDLE_FILE_INFORMATION& info) {
  FileIdentity id;
  id.size = (static_cast<uint64_t>(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
  id.device = info.dwVolumeSerialNumber;
  id.inode = (static_cast<uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow;
  uint64_t ticks = (static_cast<uint64_t>(info.ftLastWriteTime.dwHighDateTime) << 32) | info.ftLastWriteTime.dwLowDateTime;
  id.mtime_ns = static_cast<int64_t>(ticks * 100);
  return id;
}

ErrorCode code_of(DWORD err) {
  switch (err) {
    case ERROR_FILE_NOT_FOUND: case ERROR_PATH_NOT_FOUND: case ERROR_INVALID_NAME: return ErrorCode::kNotFound;
    case ERROR_TOO_MANY_OPEN_FILES: return ErrorCode::kLimitReached;
    case ERROR_NOT_ENOUGH_MEMORY: case ERROR_OUTOFMEMORY: return ErrorCode::kOutOfMemory;
    default: return ErrorCode::kIo;
  }
}

Result<BY_HANDLE_FILE_INFORMATION> info_of(HANDLE h, const std::string& path) {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!GetFileInformationByHandle(h, &info)) {
    DWORD err = GetLastError();
    return Error{path, {}, {}, fmt::format("cannot read the file's information: {}", win::error_text(err)), code_of(err)};
  }
  return info;
}

}  // namespace

// Windows has no per-process open-file limit to raise (handles are limited
// only by memory): never raised.
std::optional<std::pair<uint64_t, uint64_t>> open_file_limit_raised() { return std::nullopt; }

Result<File> File::open(const std::string& path) {
  std::wstring wide = win::long_path(path);
  if (wide.empty() && !path.empty()) return Error{path, {}, {}, "cannot open: the path is not valid UTF-8", ErrorCode::kNotFound};
  HANDLE h = CreateFileW(wide.c_str(), GENERIC_READ, kShareAll, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    DWORD attrs = GetFileAttributesW(wide.c_str());
    if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY))
      return Error{path, {}, {}, "not a regular file (a directory); expected a model file", ErrorCode::kBadFormat};
    return Error{path, {}, {}, fmt::format("cannot open: {}", win::error_text(err)), code_of(err)};
  }
  if (GetFileType(h) != FILE_TYPE_DISK) {
    CloseHandle(h);
    return Error{path, {}, {}, "not a regular file (a pipe or a device); expected a model file", ErrorCode::kBadFormat};
  }
  auto info = info_of(h, path);
  if (!info) {
    CloseHandle(h);
    return info.error();
  }
  return File(path, win::native(h), identity_of(*info));
}

Result<FileIdentity> File::identity_of_handle(NativeHandle handle, const std::string& path) {
  auto info = info_of(win::handle_of(handle), path);
  if (!info) return info.error();
  return identity_of(*info);
}

// The path must still name the same file (volume serial + file index).
Result<FileIdentity> File::identity_of_path(const std::string& path) {
  HANDLE h = CreateFileW(win::long_path(path).c_str(), FILE_READ_ATTRIBUTES, kShareAll, nullptr, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    return Error{path, {}, {}, win::error_text(err), code_of(err)};
  }
  auto info = info_of(h, path);
  CloseHandle(h);
  if (!info) return info.error();
  return identity_of(*info);
}

void File::close_handle(NativeHandle handle) {
  if (handle.valid()) CloseHandle(win::handle_of(handle));
}

}  // namespace wm
