// Two components whose sizes add up to more than a memory cgroup's limit run
// one after another with `run --sequential` (load, use, release, evict)
// without an OOM kill, on the mapped and on the copy path; loading both at
// once on the copy path is killed, which shows the limit is real. Needs a
// writable memory cgroup (v1 memory.limit_in_bytes or v2 memory.max):
// skipped, saying why, where there is none.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "format/safetensors_writer.h"
#include "page_cache_support.h"
#include "test_support.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kComponentBytes = 96 * kMiB;
constexpr uint64_t kLimit = 160 * kMiB;  // one component fits, two do not

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// A child memory cgroup of this process's own, removed on destruction.
class MemoryCgroup {
 public:
  bool create(uint64_t limit, std::string* why) {
    std::string own_v1, own_v2;
    std::istringstream lines(read_text("/proc/self/cgroup"));
    for (std::string line; std::getline(lines, line);) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (controllers == "memory") own_v1 = path;
      if (controllers.empty()) own_v2 = path;
    }
    std::string name = fmt::format("weightmap-test-{}", ::getpid());
    if (!own_v1.empty() && fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
      dir_ = "/sys/fs/cgroup/memory" + own_v1 + "/" + name;
      peak_file_ = "memory.max_usage_in_bytes";
      limit_file_ = "memory.limit_in_bytes";
    } else if (!own_v2.empty() && fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
      dir_ = "/sys/fs/cgroup" + own_v2 + "/" + name;
      limit_file_ = "memory.max";
      peak_file_ = "memory.peak";
    } else {
      *why = "no memory cgroup found (neither v1 /sys/fs/cgroup/memory nor v2 with the memory controller)";
      return false;
    }
    std::error_code ec;
    if (!fs::create_directory(dir_, ec)) {
      *why = fmt::format("cannot create {}: {}", dir_, ec ? ec.message() : "exists");
      dir_.clear();
      return false;
    }
    if (!write_text_file(dir_ + "/" + limit_file_, std::to_string(limit)) ||
        std::stoull("0" + read_text(dir_ + "/" + limit_file_)) != limit) {
      *why = fmt::format("cannot set {}/{} (memory controller not enabled here?)", dir_, limit_file_);
      return false;
    }
    return true;
  }
  ~MemoryCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  // Runs `command` inside the cgroup; returns the wait status.
  int run(const std::string& command) const {
    // system() runs this in `sh -c`: $$ is that shell, which exec turns into the command.
    std::string cmd = fmt::format("echo $$ > {}/cgroup.procs && exec {}", dir_, command);
    return std::system(cmd.c_str());
  }
  uint64_t peak() const {
    std::string t = read_text(dir_ + "/" + peak_file_);
    return t.empty() ? 0 : std::stoull(t);
  }
  void reset_peak() const { write_text_file(dir_ + "/" + peak_file_, "0"); }

 private:
  std::string dir_, limit_file_, peak_file_;
};

void write_component(const std::string& path, uint32_t seed) {
  SafetensorsWriter w;
  const uint64_t rows = 1024, cols = 1024;  // 2 MiB of F16 per tensor
  for (uint64_t i = 0; i < kComponentBytes / (rows * cols * 2); ++i)
    w.add_tensor(fmt::format("c{}.w{}", seed, i), DType::F16, {rows, cols},
                 TensorData{[seed, i](uint64_t off, std::span<std::byte> out) {
                              // Finite halves (exponent never all ones): any bytes with bit 14 clear.
                              for (size_t k = 0; k < out.size(); ++k)
                                out[k] = static_cast<std::byte>(((off + k) & 1) ? ((seed + i + k) & 0x3b) : (k * 7 + i));
                            },
                            rows * cols * 2});
  ASSERT_TRUE(w.write(path).ok());
}

TEST(PipelineCgroup, ComponentsLargerThanTheLimitTogetherRunOneAfterAnother) {
#ifdef WM_SANITIZED
  GTEST_SKIP() << "memory limits are not meaningful under ASan (shadow memory, quarantine)";
#endif
  MemoryCgroup cg;
  std::string why;
  if (!cg.create(kLimit, &why)) GTEST_SKIP() << why;
  TempDir dir;
  std::string a = dir.file("text_encoder.safetensors"), b = dir.file("transformer.safetensors");
  write_component(a, 1);
  write_component(b, 2);
  const std::string cli = WM_CLI_PATH;
  for (const char* path_kind : {"", "--no-mmap --staging-mb 8"}) {
    // Cold files: pages cached while writing them are charged to this
    // process's cgroup, not the test's, and would hide the mapped path's use.
    test::make_cold(a);
    test::make_cold(b);
    cg.reset_peak();
    std::string out = dir.file("out.json");
    int status = cg.run(fmt::format("{} run {} {} --sequential {} --json >{} 2>{}.err", cli, a, b, path_kind, out, out));
    ASSERT_TRUE(WIFEXITED(status)) << path_kind << ": killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ASSERT_EQ(WEXITSTATUS(status), 0) << path_kind << ": " << read_text(out + ".err");
    std::string json = read_text(out);
    EXPECT_NE(json.find("\"evicted\":true"), std::string::npos) << json;
    std::cout << "[ cgroup   ] limit " << kLimit / kMiB << " MiB, components 2 x " << kComponentBytes / kMiB
              << " MiB, run --sequential " << (*path_kind ? path_kind : "(mapped)") << ": peak usage "
              << cg.peak() / kMiB << " MiB\n";
    EXPECT_LE(cg.peak(), kLimit);
  }
  // Both at once on the copy path: 192 MiB of copies in a 160 MiB cgroup.
  std::string err = dir.file("both.err");
  int status = cg.run(fmt::format("{} run {} {} --no-mmap --staging-mb 8 >/dev/null 2>{}", cli, a, b, err));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "expected an OOM kill; exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ": " << read_text(err);
}

}  // namespace
}  // namespace wm
