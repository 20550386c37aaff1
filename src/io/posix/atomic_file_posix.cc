// AtomicFileWriter's POSIX parts: mkostemp beside the target, fsync, rename.
#include "io/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace wm {

Result<std::pair<std::string, NativeHandle>> AtomicFileWriter::create_temporary(const std::string& path) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Error{path, {}, {}, fmt::format("cannot create a temporary file beside it: {}", std::strerror(errno))};
  ::fchmod(fd, 0644);  // mkstemp makes 0600; a model file is for everyone to read
  return std::pair<std::string, NativeHandle>{tmp, NativeHandle{fd}};
}

void AtomicFileWriter::close_and_remove_temporary() {
  ::close(static_cast<int>(handle_.value));
  ::unlink(tmp_path_.c_str());
  handle_ = {};
}

Status AtomicFileWriter::sync_close_and_rename() {
  const int fd = static_cast<int>(handle_.value);
  if (::fsync(fd) != 0) return Error{path_, {}, {}, fmt::format("fsync failed: {}", std::strerror(errno))};
  handle_ = {};
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return Error{path_, {}, {}, fmt::format("close failed: {}", std::strerror(err))};
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return Error{path_, {}, {}, fmt::format("cannot rename the temporary file into place: {}", std::strerror(err))};
  }
  return {};
}

}  // namespace wm
