// StagedCopy on POSIX: O_TMPFILE where the kernel and filesystem have it
// (Linux), else mkstemp and unlink at once.
#include "io/staged_copy.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace wm {
namespace {

Error os_error(const std::string& where, const std::string& what, int err) {
  return Error{where, {}, {}, fmt::format("{}: {}", what, std::strerror(err)), ErrorCode::kIo};
}

bool writable_dir(const char* dir) {
  struct stat st {};
  return dir && *dir && ::stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && ::access(dir, W_OK | X_OK) == 0;
}

int create_unnamed(const std::string& dir) {
#ifdef O_TMPFILE
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
#endif
  std::string templ = dir + "/weightmap-staged-XXXXXX";
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  int fd2 = ::mkstemp(name.data());
  if (fd2 < 0) return -1;
  ::unlink(name.data());
  ::fcntl(fd2, F_SETFD, FD_CLOEXEC);
  return fd2;
}

}  // namespace

Result<StagedCopy> StagedCopy::create(const std::string& dir, uint64_t size, std::string label) {
  int fd = create_unnamed(dir);
  if (fd < 0) return os_error(dir, "cannot create a staged copy in this folder", errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    ::close(fd);
    return os_error(dir, fmt::format("cannot size a staged copy to {} bytes", size), err);
  }
  return StagedCopy(NativeHandle{fd}, size, std::move(label));
}

StagedCopy::StagedCopy(StagedCopy&& other) noexcept
    : handle_(other.handle_), size_(other.size_), label_(std::move(other.label_)) {
  other.handle_ = {};
}

StagedCopy& StagedCopy::operator=(StagedCopy&& other) noexcept {
  if (this != &other) {
    if (handle_.valid()) ::close(static_cast<int>(handle_.value));
    handle_ = other.handle_;
    size_ = other.size_;
    label_ = std::move(other.label_);
    other.handle_ = {};
  }
  return *this;
}

StagedCopy::~StagedCopy() {
  if (handle_.valid()) ::close(static_cast<int>(handle_.value));
}

Status StagedCopy::write(uint64_t offset, std::span<const std::byte> bytes) {
  if (offset > size_ || bytes.size() > size_ - offset)
    return Error{label_, {}, offset, fmt::format("staged write of {} bytes past the copy's {} bytes", bytes.size(), size_)};
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(static_cast<int>(handle_.value), bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return Error{label_, {}, offset + done,
                   fmt::format("cannot write the staged copy: {}{}", std::strerror(err),
                               err == ENOSPC ? " (its folder is full: give another with --staging-dir)" : ""),
                   ErrorCode::kIo};
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<File> StagedCopy::file() const {
  int fd = ::fcntl(static_cast<int>(handle_.value), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return os_error(label_, "cannot open the staged copy again", errno);
  return File::adopt_unnamed(label_, NativeHandle{fd});
}

Status release_staged_range(const File& staged, uint64_t offset, uint64_t len) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t from = (offset + page - 1) / page * page, to = (offset + len) / page * page;
  if (from >= to) return {};
#if defined(__linux__)
  if (::fallocate(static_cast<int>(staged.native_handle().value), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(from), static_cast<off_t>(to - from)) != 0)
    return os_error(staged.path(), fmt::format("cannot free {} bytes at {} of the staged copy", to - from, from),
                    errno);
  return {};
#else
  return Error{staged.path(), {}, from, "freeing part of a staged copy needs Linux (FALLOC_FL_PUNCH_HOLE)",
               ErrorCode::kUnsupported};
#endif
}

std::string default_staging_dir() {
  if (writable_dir("/dev/shm")) return "/dev/shm";
  if (const char* t = std::getenv("TMPDIR"); writable_dir(t)) return t;
  return "/tmp";
}

std::string host_identity() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (boot && std::getline(boot, id) && !id.empty()) return "boot " + id;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 && name[0]) return std::string("host ") + name;
  return "host unknown";
}

}  // namespace wm
