#include "io/atomic_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fault_injection.h"

namespace wm {
namespace {
constexpr size_t kBufferBytes = 4 << 20;
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string tmp, int fd)
    : path_(std::move(path)), tmp_path_(std::move(tmp)), fd_(fd) {
  buf_.reserve(kBufferBytes);
}

Result<AtomicFileWriter> AtomicFileWriter::create(const std::string& path) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Error{path, {}, {}, fmt::format("cannot create a temporary file beside it: {}", std::strerror(errno))};
  ::fchmod(fd, 0644);  // mkstemp makes 0600; a model file is for everyone to read
  return AtomicFileWriter(path, tmp, fd);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      fd_(other.fd_),
      buf_(std::move(other.buf_)),
      written_(other.written_) {
  other.fd_ = -1;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

Status AtomicFileWriter::flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    ssize_t n = sys::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path_, {}, written_ - buf_.size() + done,
                   fmt::format("write failed: {}", std::strerror(errno))};
    }
    // write() returns 0 for a non-empty buffer only on a device that takes no
    // more: fail instead of looping forever.
    if (n == 0) return Error{path_, {}, written_ - buf_.size() + done, "write failed: wrote nothing"};
    done += static_cast<size_t>(n);  // a short write (a signal, a quota): go on from there
  }
  buf_.clear();
  return {};
}

Status AtomicFileWriter::write(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    size_t take = std::min(bytes.size(), kBufferBytes - buf_.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
    written_ += take;
    bytes = bytes.subspan(take);
    if (buf_.size() == kBufferBytes)
      if (Status s = flush(); !s) return s;
  }
  return {};
}

Status AtomicFileWriter::write_zeros(size_t n) {
  static const std::byte kZeros[256] = {};
  while (n > 0) {
    size_t take = std::min(n, sizeof kZeros);
    if (Status s = write({kZeros, take}); !s) return s;
    n -= take;
  }
  return {};
}

Status AtomicFileWriter::commit() {
  if (fd_ < 0) return Error{path_, {}, {}, "already committed"};
  if (Status s = flush(); !s) return s;
  if (::fsync(fd_) != 0) return Error{path_, {}, {}, fmt::format("fsync failed: {}", std::strerror(errno))};
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
    return Error{path_, {}, {}, fmt::format("close failed: {}", std::strerror(errno))};
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return Error{path_, {}, {}, fmt::format("cannot rename the temporary file into place: {}", std::strerror(err))};
  }
  return {};
}

}  // namespace wm
