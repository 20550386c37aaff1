// AtomicFileWriter's Windows parts: a new temporary beside the target
// (CREATE_NEW with a random name), FlushFileBuffers, then MoveFileExW with
// MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH to put it in place.
#include "io/atomic_file.h"

#include <fmt/format.h>
#include <random>

#include "io/windows/win32.h"

namespace wm {

Result<std::pair<std::string, NativeHandle>> AtomicFileWriter::create_temporary(const std::string& path) {
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string tmp = fmt::format("{}.tmp.{:08x}", path, rd());
    HANDLE h = CreateFileW(win::long_path(tmp).c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr,
                           CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h != INVALID_HANDLE_VALUE) return std::pair<std::string, NativeHandle>{tmp, win::native(h)};
    DWORD err = GetLastError();
    if (err != ERROR_FILE_EXISTS)
      return Error{path, {}, {}, fmt::format("cannot create a temporary file beside it: {}", win::error_text(err))};
  }
  return Error{path, {}, {}, "cannot create a temporary file beside it: 16 random names were all taken"};
}

void AtomicFileWriter::close_and_remove_temporary() {
  CloseHandle(win::handle_of(handle_));
  DeleteFileW(win::long_path(tmp_path_).c_str());
  handle_ = {};
}

Status AtomicFileWriter::sync_close_and_rename() {
  HANDLE h = win::handle_of(handle_);
  if (!FlushFileBuffers(h))
    return Error{path_, {}, {}, fmt::format("FlushFileBuffers failed: {}", win::error_text(GetLastError()))};
  handle_ = {};
  if (!CloseHandle(h)) {
    DWORD err = GetLastError();
    DeleteFileW(win::long_path(tmp_path_).c_str());
    return Error{path_, {}, {}, fmt::format("close failed: {}", win::error_text(err))};
  }
  if (!MoveFileExW(win::long_path(tmp_path_).c_str(), win::long_path(path_).c_str(),
                   MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    DWORD err = GetLastError();
    DeleteFileW(win::long_path(tmp_path_).c_str());
    return Error{path_, {}, {}, fmt::format("cannot rename the temporary file into place: {}", win::error_text(err))};
  }
  return {};
}

}  // namespace wm
