// io/child_process.h on POSIX: posix_spawn(p) with stdout (and stderr)
// into unlinked temporary files, read back after waitpid. Files, not
// pipes: the child never blocks on a full pipe while we wait for it.
#include "io/child_process.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

extern char** environ;

namespace wm {
namespace {

// An unlinked temporary file: gone from the folder at once, freed on close.
int anonymous_temp_file() {
  char path[] = "/tmp/weightmap-child-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd >= 0) ::unlink(path);
  return fd;
}

std::string read_all(int fd) {
  std::string text;
  char buf[65536];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return text;
}

// Closes the descriptors it holds when it goes.
struct Fds {
  int out = -1, err = -1;
  ~Fds() {
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
  }
};

}  // namespace

Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& options) {
  if (argv.empty()) return Error{{}, {}, {}, "run_child: no program given", ErrorCode::kInvalidArgument};
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  Fds fds;
  fds.out = anonymous_temp_file();
  if (options.capture_stderr) fds.err = anonymous_temp_file();
  if (fds.out < 0 || (options.capture_stderr && fds.err < 0))
    return Error{argv[0], {}, {}, fmt::format("cannot create a temporary file for the child's output: {}",
                                              std::strerror(errno))};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds.out, 1);
  if (options.capture_stderr) posix_spawn_file_actions_adddup2(&fa, fds.err, 2);
  else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  int rc = options.search_path ? ::posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), environ)
                               : ::posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return Error{argv[0], {}, {}, fmt::format("cannot start the child: {}", std::strerror(rc)),
                 rc == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Error{argv[0], {}, {}, fmt::format("waiting for the child failed: {}", std::strerror(errno))};
  }
  ChildResult r;
  r.exited = WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.out = read_all(fds.out);
  if (options.capture_stderr) r.err = read_all(fds.err);
  return r;
}

Result<std::string> this_executable_path() {
#if defined(__linux__)
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  return Error{"/proc/self/exe", {}, {}, fmt::format("cannot read this executable's path: {}", std::strerror(errno))};
#elif defined(__APPLE__)
  char buf[PATH_MAX];
  uint32_t size = sizeof buf;
  if (::_NSGetExecutablePath(buf, &size) == 0) return std::string(buf);
  return Error{{}, {}, {}, "cannot read this executable's path: _NSGetExecutablePath failed"};
#else
  // The BSDs: sysctl KERN_PROC_PATHNAME would tell; not wired up yet.
  return Error{{}, {}, {}, "this executable's path is not known on this OS", ErrorCode::kUnsupported};
#endif
}

}  // namespace wm
