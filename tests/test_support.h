// Helpers shared by the tests: a temporary folder that cleans up after
// itself, whole-file reads and writes, and running the CLI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/platform.h"  // WM_SKIP_WITHOUT

namespace wm::test {

// The emulator a cross build's tests run under ("qemu-aarch64 -L ..." or
// wine; see tests/CMakeLists.txt), empty for a native build. A test that
// cannot work under qemu-user (which emulates one process's CPU and passes
// its system calls to the host) skips with WM_SKIP_UNDER_QEMU(why). Wine
// runs the code natively: what it lacks shows as a missing capability
// (io/platform.h), and tests skip on that (WM_SKIP_WITHOUT).
inline constexpr std::string_view kTestEmulator = WM_TEST_EMULATOR;
inline constexpr bool kUnderQemu = kTestEmulator.find("qemu") != std::string_view::npos;
#define WM_SKIP_UNDER_QEMU(why) \
  if (::wm::test::kUnderQemu) GTEST_SKIP() << "under " << ::wm::test::kTestEmulator << ": " << why
// Skips unless this platform has `capability` (a wm::Capability), printing
// the platform's reason.
#define WM_SKIP_WITHOUT(capability) \
  if (!::wm::supports(capability)) GTEST_SKIP() << "no " << ::wm::capability_name(capability) << " here: " \
                                                << ::wm::unsupported_reason(capability)

// A fresh folder under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::vector<std::byte> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<std::byte>& bytes);
void write_text(const std::string& path, const std::string& text);
// Renames `from` over `to` while `to` is open elsewhere (saving over a
// loaded model). False, with the OS's reason, where it refuses (Windows
// will not replace a file that has an open handle).
bool replace_open_file(const std::string& from, const std::string& to, std::string* why);
// Removes a file that is open elsewhere. False, with the reason, where
// the name stays until the last handle closes (wine's delete-on-close), so
// nothing can see the removal yet.
bool remove_open_file(const std::string& path, std::string* why);
// Overwrites bytes in place at `offset` (the file keeps its size, as a
// pwrite would); false if the file cannot be opened for writing.
bool write_at(const std::string& path, uint64_t offset, const std::vector<std::byte>& bytes);

// Little-endian integer written into bytes at `at` (for corrupting files).
void poke_u32(std::vector<std::byte>& bytes, size_t at, uint32_t v);
void poke_u64(std::vector<std::byte>& bytes, size_t at, uint64_t v);

// `n` deterministic pseudo-random bytes, different for each seed.
std::vector<std::byte> pattern(size_t n, uint32_t seed);

// The exact value of an IEEE half, decoded in double from the format's
// definition: the reference conversion tests compare against.
double half_value(uint16_t h);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the weightmap CLI with `args` (already shell-quoted where needed).
CommandResult run_cli(const std::string& args);
// Whether `err` holds a progress bar: a carriage return that does not end
// a line (Windows writes "\r\n" for every text-mode newline).
bool draws_progress(const std::string& err);
// The argument vector run_cli starts: the CLI (after its emulator, in a
// cross build) and `args` split into words.
std::vector<std::string> cli_argv(const std::string& args);

// Sets (or, with nullptr, removes) an environment variable for this process:
// setenv/unsetenv where POSIX has them, _putenv_s on Windows (defined in
// platform_support_*.cc). True on success.
bool set_env(const char* name, const char* value);

}  // namespace wm::test
