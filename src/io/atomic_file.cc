// The platform-neutral part of AtomicFileWriter: buffering and the write
// loop. Creating, syncing and renaming the temporary are per platform
// (io/posix/atomic_file_posix.cc, io/windows/).
#include "io/atomic_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "io/fault_injection.h"

namespace wm {
namespace {
constexpr size_t kBufferBytes = 4 << 20;
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string tmp, NativeHandle handle)
    : path_(std::move(path)), tmp_path_(std::move(tmp)), handle_(handle) {
  buf_.reserve(kBufferBytes);
}

Result<AtomicFileWriter> AtomicFileWriter::create(const std::string& path) {
  auto tmp = create_temporary(path);
  if (!tmp) return tmp.error();
  return AtomicFileWriter(path, std::move(tmp->first), tmp->second);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      handle_(other.handle_),
      buf_(std::move(other.buf_)),
      written_(other.written_) {
  other.handle_ = {};
}

AtomicFileWriter::~AtomicFileWriter() {
  if (handle_.valid()) close_and_remove_temporary();
}

Status AtomicFileWriter::flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    int64_t n = sys::write(handle_, buf_.data() + done, buf_.size() - done);
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
  if (!handle_.valid()) return Error{path_, {}, {}, "already committed"};
  if (Status s = flush(); !s) return s;
  return sync_close_and_rename();
}

}  // namespace wm
