// What tests need from the OS beyond the library's own platform layer, one
// implementation per platform (tests/CMakeLists.txt picks
// platform_support_posix.cc or platform_support_windows.cc), so the test
// programs themselves carry no OS calls and no OS #ifs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wm::test {

// Gives the heap pages malloc keeps cached back to the OS, so a memory
// figure read next counts live data only (glibc: malloc_trim; Windows:
// _heapmin; elsewhere nothing).
void trim_heap();

// Makes a FIFO (named pipe in the file system) at `path`. False, with the
// reason in *why, where the platform has none (Windows: its pipes live in
// \\.\pipe\, not among files).
bool make_fifo(const std::string& path, std::string* why);

// Shrinks the file at `path` to `size` bytes while it may be mapped (the
// fault tests' setup). False, with the reason, where the OS refuses
// (Windows will not resize a file with a mapped view).
bool shrink_file(const std::string& path, uint64_t size, std::string* why);

struct CommandResult;
// Runs the CLI (test::run_cli's way) with its open-file limit set to
// soft/hard first. False, with the reason, where processes have no such
// limit (Windows: handles are bounded by memory only).
bool run_cli_with_open_file_limit(uint64_t soft, uint64_t hard, const std::string& args, CommandResult* out,
                                  std::string* why);

// Two pages of which only the first can be read: touching the second
// faults the way a mapped page whose file shrank does. POSIX: a one-page
// file mapped two pages long (SIGBUS). Windows: the second page reserved,
// never committed (an access violation, which is what wine raises for a
// mapped host file that shrank). The first page holds pattern(page, 1).
class UnreadablePage {
 public:
  UnreadablePage();
  ~UnreadablePage();
  UnreadablePage(const UnreadablePage&) = delete;
  UnreadablePage& operator=(const UnreadablePage&) = delete;
  std::byte* base() const { return base_; }  // nullptr if it could not be made
  size_t page() const { return page_; }

 private:
  std::byte* base_ = nullptr;
  size_t page_ = 0;
  std::string file_;  // POSIX: the one-page file
};

// A death test's predicate: the child died of an unguarded fault (POSIX:
// SIGBUS, or a sanitizer's failed exit; Windows: the exception's code).
bool died_of_fault(int exit_status);
// Raises a fault that no memory access caused (POSIX: raise(SIGBUS);
// Windows: RaiseException(EXCEPTION_IN_PAGE_ERROR) with no address).
void raise_fault_without_access();

// Whether this OS lets a mapped file shrink (what makes its pages fault);
// false, with the reason, on Windows, which refuses.
bool mapped_files_can_shrink(std::string* why);

// A command whose process ends by a signal (POSIX: a shell that kills
// itself with SIGKILL) or an exception (Windows: cmd exiting with
// STATUS_ACCESS_VIOLATION), for run_child to report as not exited.
std::vector<std::string> killed_child_command();

// Whether this process has `path` mapped (POSIX: a line of
// /proc/self/maps ends with it; Windows: a mapped view's file name,
// GetMappedFileNameW, ends with its file name). nullopt, with the reason,
// where that cannot be seen (macOS, the BSDs: no /proc).
std::optional<bool> maps_file(const std::string& path, std::string* why);
// As maps_file, for an assertion: true when it cannot be seen.
inline bool process_maps_file(const std::string& path) { return maps_file(path, nullptr).value_or(true); }

// An exclusive lock on a file from its own handle, as another program
// that writes the file would take (POSIX: flock LOCK_EX; Windows:
// LockFileEx exclusive), held until destroyed.
class ExclusiveLock {
 public:
  // Non-blocking: held() says whether it was granted.
  explicit ExclusiveLock(const std::string& path);
  ~ExclusiveLock();
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;
  bool held() const { return held_; }

 private:
  intptr_t handle_ = -1;
  bool held_ = false;
};

// A path that names a device, not a file ("/dev/null", "NUL"): opening it
// as a model must fail cleanly.
std::string device_path();

}  // namespace wm::test
