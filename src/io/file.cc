#include "io/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace wm {

Result<File> File::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path, {}, {}, fmt::format("cannot open: {}", std::strerror(errno))};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error{path, {}, {}, fmt::format("cannot stat: {}", std::strerror(err))};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{path, {}, {}, "not a regular file"};
  }
  FileIdentity id;
  id.size = static_cast<uint64_t>(st.st_size);
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return File(path, fd, id);
}

File::File(File&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), identity_(other.identity_) {
  other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    identity_ = other.identity_;
    other.fd_ = -1;
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Status File::read_exact(uint64_t offset, std::span<std::byte> dst) const {
  size_t done = 0;
  while (done < dst.size()) {
    ssize_t n = ::pread(fd_, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
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

}  // namespace wm
