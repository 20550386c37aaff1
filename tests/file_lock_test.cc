// --lock and --mlock on POSIX: a lease (or flock) is held while loaded and
// given back on release; a writer opening the file breaks the lease, which
// check_files() reports; --mlock pins mapped pages as they are read, and a
// refusal (RLIMIT_MEMLOCK) is reported without failing the load. The lock
// against other programs' exclusive locks, on every platform:
// tests/file_lock_exclusive_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "compute/pass.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "io/file_lock.h"
#include "io/process_memory.h"
#include "load/loader.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

std::string write_model(const TempDir& dir, uint64_t rows = 64) {
  GgufWriter g;
  g.add_tensor("w", DType::F32, {rows, 256}, TensorData::bytes(test::pattern(rows * 256 * 4, 5)));
  std::string path = dir.file("m.gguf");
  EXPECT_TRUE(g.write(path).ok());
  return path;
}

Result<LoadedModel> load(const std::string& path, bool lock, bool mlock, std::vector<std::string>* warnings = nullptr) {
  auto table = open_model({path});
  if (!table) return table.error();
  LoadOptions o;
  o.lock_files = lock;
  o.mlock = mlock;
  o.hints = MmapHints();
  o.prefetch = PrefetchMode::kNone;
  if (warnings)
    o.log = Logger([warnings](LogLevel l, std::string_view m) {
      if (l == LogLevel::kWarn) warnings->emplace_back(m);
    });
  return load_model(std::move(table.value()), o);
}

// Opens `path` for writing in a child process without blocking: the
// child's exit code says whether the open was held off (1) or went
// through (0), and 2 on any other error.
int writer_open_in_child(const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) _exit(0);
    _exit(errno == EWOULDBLOCK ? 1 : 2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

TEST(FileLock, ALeaseHoldsWritersOffAndItsBreakIsReported) {
  TempDir dir;
  std::string path = write_model(dir);
  std::vector<std::string> warnings;
  auto m = load(path, true, false, &warnings);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  const std::string& kind = m->report().file_locks;
  ASSERT_TRUE(kind == "lease" || kind == "flock") << kind;
  if (kind == "flock") {
    // The kernel refused a lease here (the warning says why): flock is advisory.
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("no lease"), std::string::npos) << warnings[0];
    GTEST_SKIP() << "no lease on this filesystem: " << warnings[0];
  }
  EXPECT_TRUE(m->check_files().ok());
  EXPECT_EQ(writer_open_in_child(path), 1);  // held off: EWOULDBLOCK, and the lease break starts
  // The break arrives as a signal: give it a moment.
  Status s;
  for (int k = 0; k < 200 && (s = m->check_files()); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_NE(s.error().message.find("waiting to write"), std::string::npos) << s.error().message;
  auto pass = compute_pass(*m);
  EXPECT_FALSE(pass.ok());
  // Released, the lease is gone: the writer gets in at once.
  ASSERT_TRUE(m->release().ok());
  EXPECT_EQ(writer_open_in_child(path), 0);
}

TEST(FileLock, WithoutLockWritersAreNotHeldOff) {
  TempDir dir;
  std::string path = write_model(dir);
  auto m = load(path, false, false);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->report().file_locks, "");
  EXPECT_EQ(writer_open_in_child(path), 0);
}

TEST(FileLock, AFileOpenForWritingGetsAFlockAndTheReasonIsLogged) {
  TempDir dir;
  std::string path = write_model(dir);
  int writer = ::open(path.c_str(), O_WRONLY);  // a lease needs no writer anywhere
  ASSERT_GE(writer, 0);
  std::vector<std::string> warnings;
  auto m = load(path, true, false, &warnings);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->report().file_locks, "flock");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no lease"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(path), std::string::npos) << warnings[0];
  // The flock is real: an exclusive flock from another descriptor is refused.
  EXPECT_NE(::flock(writer, LOCK_EX | LOCK_NB), 0);
  ASSERT_TRUE(m->release().ok());
  EXPECT_EQ(::flock(writer, LOCK_EX | LOCK_NB), 0);
  ::close(writer);
}

uint64_t locked_kib() {
  // VmLck in /proc/self/status: the process's locked memory.
  auto text = test::read_file("/proc/self/status");
  std::string s(reinterpret_cast<const char*>(text.data()), text.size());
  auto at = s.find("VmLck:");
  return at == std::string::npos ? 0 : std::stoull(s.substr(at + 6));
}

TEST(Mlock, MappedPagesArePinnedAsTheyAreRead) {
  WM_SKIP_UNDER_QEMU("qemu-user's mlock fails with EINVAL");
  TempDir dir;
  std::string path = write_model(dir, 512);  // 512 KiB
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &lim), 0);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < (4u << 20)) GTEST_SKIP() << "RLIMIT_MEMLOCK below 4 MiB here";
  uint64_t before = locked_kib();
  auto m = load(path, false, true);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->report().mlock_error, "");
  EXPECT_EQ(m->report().mlocked_bytes, m->report().file_bytes);
  ASSERT_TRUE(compute_pass(*m).ok());  // reads every page
  EXPECT_GE(locked_kib(), before + 512);
  ASSERT_TRUE(m->release().ok());
  EXPECT_LE(locked_kib(), before);
}

// Drops CAP_IPC_LOCK from the effective set while alive (root, as in CI,
// may lock without limit), and raises it again after: it stays permitted.
class WithoutIpcLock {
 public:
  WithoutIpcLock() {
    if (syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct dropped[2] = {saved_[0], saved_[1]};
    dropped[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    changed_ = syscall(SYS_capset, &header_, dropped) == 0;
  }
  ~WithoutIpcLock() {
    if (changed_) syscall(SYS_capset, &header_, saved_);
  }

 private:
  __user_cap_header_struct header_{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct saved_[2]{};
  bool changed_ = false;
};

TEST(Mlock, ARefusalIsReportedAndTheLoadGoesOn) {
  WM_SKIP_UNDER_QEMU("qemu-user's mlock fails with EINVAL");
  TempDir dir;
  std::string path = write_model(dir);
  WithoutIpcLock no_cap;
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &saved), 0);
  rlimit none = saved;
  none.rlim_cur = 0;
  ASSERT_EQ(setrlimit(RLIMIT_MEMLOCK, &none), 0);
  std::vector<std::string> warnings;
  auto m = load(path, false, true, &warnings);
  ASSERT_EQ(setrlimit(RLIMIT_MEMLOCK, &saved), 0);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  ASSERT_NE(m->report().mlock_error, "") << "mlock went through with RLIMIT_MEMLOCK 0";
  EXPECT_NE(m->report().mlock_error.find(path), std::string::npos) << m->report().mlock_error;
  EXPECT_NE(m->report().mlock_error.find("RLIMIT_MEMLOCK"), std::string::npos) << m->report().mlock_error;
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("--mlock"), std::string::npos);
  EXPECT_EQ(m->tensors()[0].placement, Placement::kMap);
}

}  // namespace
}  // namespace wm
