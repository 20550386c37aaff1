// The platform-neutral part of File: reads through the fault-injection
// seam, and what counts as a changed file. Opening, identity and closing a
// handle are per platform
// (io/posix/file_posix.cc, io/windows/file_windows.cc).
#include "io/file.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "io/fault_injection.h"

namespace wm {

Status File::read_exact(uint64_t offset, std::span<std::byte> dst) const {
  size_t done = 0;
  while (done < dst.size()) {
    int64_t n = sys::pread(handle_, dst.data() + done, dst.size() - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path_, {}, offset + done, fmt::format("read failed: {}", std::strerror(errno))};
    }
    if (n == 0)
      return Error{path_, {}, offset + done,
                   fmt::format("unexpected end of file (wanted {} more bytes; the file may have shrunk)",
                               dst.size() - done)};
    done += static_cast<size_t>(n);
  }
  return {};
}

Status File::check_unchanged() const {
  // A staged copy: no path reaches it, and only its loader writes it
  // (freeing pages it is done with, which moves its mtime).
  if (unnamed_) return {};
  auto now = identity_of_handle(handle_, path_);
  if (!now) return now.error();
  if (now->size != identity_.size)
    return Error{path_, {}, {},
                 fmt::format("the file changed while in use: {} bytes when opened, {} now (truncated or rewritten); "
                             "its mapped pages past the new end can no longer be read. Load it again",
                             identity_.size, now->size),
                 ErrorCode::kChangedOnDisk};
  if (now->mtime_ns != identity_.mtime_ns)
    return Error{path_, {}, {},
                 "the file was modified in place while in use (its modification time changed): its bytes may no "
                 "longer be what was loaded. Load it again",
                 ErrorCode::kChangedOnDisk};
  auto named = identity_of_path(path_);
  if (!named)
    return Error{path_, {}, {},
                 fmt::format("the file was removed or renamed while in use ({}); the loaded model still reads the "
                             "old file",
                             named.error().message),
                 ErrorCode::kChangedOnDisk};
  if (named->device != identity_.device || named->inode != identity_.inode)
    return Error{path_, {}, {},
                 "the file was replaced (saved over: the path names a new file) while in use; the loaded model "
                 "still reads the old one. Load it again",
                 ErrorCode::kChangedOnDisk};
  return {};
}

File::File(File&& other) noexcept
    : path_(std::move(other.path_)), handle_(other.handle_), identity_(other.identity_), unnamed_(other.unnamed_) {
  other.handle_ = {};
}

Result<File> File::adopt_unnamed(std::string label, NativeHandle handle) {
  auto id = identity_of_handle(handle, label);
  if (!id) {
    close_handle(handle);
    return id.error();
  }
  File f(std::move(label), handle, *id);
  f.unnamed_ = true;
  return f;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close_handle(handle_);
    path_ = std::move(other.path_);
    handle_ = other.handle_;
    identity_ = other.identity_;
    unnamed_ = other.unnamed_;
    other.handle_ = {};
  }
  return *this;
}

File::~File() {
  close_handle(handle_);
}

}  // namespace wm
