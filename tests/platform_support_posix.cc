// platform_support.h on POSIX.
#include "platform_support.h"

#include <cerrno>
#include <cstdlib>
#include <fmt/format.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "test_support.h"

namespace wm::test {

void trim_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

bool make_fifo(const std::string& path, std::string* why) {
  if (::mkfifo(path.c_str(), 0600) == 0) return true;
  if (why) *why = std::string("mkfifo failed: ") + std::strerror(errno);
  return false;
}

bool shrink_file(const std::string& path, uint64_t size, std::string* why) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) == 0) return true;
  if (why) *why = std::string("truncate failed: ") + std::strerror(errno);
  return false;
}

// Through a shell, whose ulimit sets the limits the CLI then inherits.
bool run_cli_with_open_file_limit(uint64_t soft, uint64_t hard, const std::string& args, CommandResult* out,
                                  std::string*) {
  TempDir dir;
  std::string out_file = dir.file("out"), err_file = dir.file("err");
  std::string limits = soft == hard ? fmt::format("ulimit -n {}", hard)
                                    : fmt::format("ulimit -Sn {}; ulimit -Hn {}", soft, hard);
  std::string cmd = fmt::format("sh -c '{}; exec {} {}' >{} 2>{} </dev/null", limits, WM_CLI_PATH, args, out_file,
                                err_file);
  int status = std::system(cmd.c_str());
  out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto text = [](const std::string& path) {
    auto b = read_file(path);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  };
  out->out = text(out_file);
  out->err = text(err_file);
  return true;
}

UnreadablePage::UnreadablePage() : page_(static_cast<size_t>(::sysconf(_SC_PAGESIZE))) {
  std::string templ = (std::filesystem::temp_directory_path() / "wm-unreadable-XXXXXX").string();
  int fd = ::mkstemp(templ.data());
  if (fd < 0) return;
  file_ = templ;
  write_file(file_, pattern(page_, 1));
  void* p = ::mmap(nullptr, 2 * page_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) base_ = static_cast<std::byte*>(p);
}

UnreadablePage::~UnreadablePage() {
  if (base_) ::munmap(base_, 2 * page_);
  if (!file_.empty()) ::unlink(file_.c_str());
}

bool died_of_fault(int status) {
#ifdef WM_SANITIZED
  if (WIFEXITED(status)) return WEXITSTATUS(status) != 0;  // ASan reports it and exits
#endif
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

void raise_fault_without_access() { ::raise(SIGBUS); }

bool mapped_files_can_shrink(std::string*) { return true; }

bool set_env(const char* name, const char* value) {
  return value ? ::setenv(name, value, 1) == 0 : ::unsetenv(name) == 0;
}

std::vector<std::string> killed_child_command() { return {"/bin/sh", "-c", "kill -9 $$"}; }

std::optional<bool> maps_file(const std::string& path, std::string* why) {
  std::ifstream maps("/proc/self/maps");
  if (!maps) {
    if (why) *why = "no /proc/self/maps here";
    return std::nullopt;
  }
  std::string line;
  while (std::getline(maps, line))
    if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) return true;
  return false;
}

ExclusiveLock::ExclusiveLock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  handle_ = fd;
  held_ = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
}

ExclusiveLock::~ExclusiveLock() {
  if (handle_ >= 0) ::close(static_cast<int>(handle_));  // closing gives the flock back
}

std::string device_path() { return "/dev/null"; }

}  // namespace wm::test
