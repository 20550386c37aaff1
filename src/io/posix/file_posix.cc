// File on POSIX: a descriptor opened O_RDONLY | O_CLOEXEC, identity from fstat.
#include "io/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

namespace wm {

namespace {

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.size = static_cast<uint64_t>(st.st_size);
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
#if defined(__APPLE__)
  id.mtime_ns = static_cast<int64_t>(st.st_mtimespec.tv_sec) * 1'000'000'000 + st.st_mtimespec.tv_nsec;
#else
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
#endif
  return id;
}

ErrorCode code_of_errno(int err) {
  switch (err) {
    case ENOENT: case ENOTDIR: return ErrorCode::kNotFound;
    case EMFILE: case ENFILE: return ErrorCode::kLimitReached;
    case ENOMEM: return ErrorCode::kOutOfMemory;
    default: return ErrorCode::kIo;
  }
}

std::atomic<uint64_t> g_raised_from{0}, g_raised_to{0};

// Large models ship in 100-300 shards, and engines hold other files open:
// on the first EMFILE the soft open-file limit is raised to the hard one.
bool raise_open_file_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return false;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  g_raised_from = was;
  g_raised_to = rl.rlim_max;
  return true;
}

std::string open_file_limit_text() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return "the open-file limit is reached";
  return fmt::format("the open-file limit is reached (RLIMIT_NOFILE: soft {}, hard {}); raise it with `ulimit -n` "
                     "(the hard limit needs root or limits.conf)",
                     rl.rlim_cur, rl.rlim_max);
}
}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> open_file_limit_raised() {
  if (g_raised_to == 0) return std::nullopt;
  return std::pair<uint64_t, uint64_t>{g_raised_from.load(), g_raised_to.load()};
}

Result<File> File::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; it
  // is refused below as not a regular file. Cleared again for regular files.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == EMFILE && raise_open_file_limit()) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    std::string why = err == EMFILE ? open_file_limit_text() : std::strerror(err);
    return Error{path, {}, {}, fmt::format("cannot open: {}", why), code_of_errno(err)};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error{path, {}, {}, fmt::format("cannot stat: {}", std::strerror(err)), code_of_errno(err)};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file";
    return Error{path, {}, {}, fmt::format("not a regular file ({}); expected a model file", kind),
                 ErrorCode::kBadFormat};
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return Error{path, {}, {}, fmt::format("cannot clear O_NONBLOCK: {}", std::strerror(err)), code_of_errno(err)};
  }
  return File(path, NativeHandle{fd}, identity_of(st));
}

Result<FileIdentity> File::identity_of_handle(NativeHandle handle, const std::string& path) {
  struct stat st {};
  if (::fstat(static_cast<int>(handle.value), &st) != 0)
    return Error{path, {}, {}, fmt::format("cannot stat: {}", std::strerror(errno)), code_of_errno(errno)};
  return identity_of(st);
}

Result<FileIdentity> File::identity_of_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error{path, {}, {}, std::strerror(errno), code_of_errno(errno)};
  return identity_of(st);
}

void File::close_handle(NativeHandle handle) {
  if (handle.valid()) ::close(static_cast<int>(handle.value));
}

}  // namespace wm
