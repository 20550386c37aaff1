// The platform-neutral part of File: reads through the fault-injection
// seam. Opening, identity and closing a handle are per platform
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


File::File(File&& other) noexcept
    : path_(std::move(other.path_)), handle_(other.handle_), identity_(other.identity_) {
  other.handle_ = {};
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close_handle(handle_);
    path_ = std::move(other.path_);
    handle_ = other.handle_;
    identity_ = other.identity_;
    other.handle_ = {};
  }
  return *this;
}

File::~File() {
  close_handle(handle_);
}

}  // namespace wm
