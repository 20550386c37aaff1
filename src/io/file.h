// The one place that opens model files. A File is a read-only handle (a
// descriptor on POSIX, a HANDLE on Windows) with its identity recorded at
// open (size, mtime, file id, device), so later stages can tell whether the
// file changed under them.
//
// Thread-safe: all methods are const and read at explicit offsets (pread,
// overlapped ReadFile), which share no file position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <span>
#include <string>

#include "common/error.h"
#include "io/native_handle.h"

namespace wm {

struct FileIdentity {
  uint64_t size = 0;
  uint64_t device = 0;  // st_dev; Windows: the volume serial number
  uint64_t inode = 0;   // st_ino; Windows: the file index
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

// When File::open met the open-file limit and raised the soft limit to the
// hard one: (old soft limit, new). For the caller to log; nullopt if never.
std::optional<std::pair<uint64_t, uint64_t>> open_file_limit_raised();

class File {
 public:
  static Result<File> open(const std::string& path);
  // Takes `handle`, an open file that no path names (a staged copy,
  // io/staged_copy.h), labelled `label` in errors. check_unchanged() has
  // nothing to check: no path reaches it, and only its loader writes it.
  static Result<File> adopt_unnamed(std::string label, NativeHandle handle);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  // The OS handle, for io's own platform code (mappings, locks, readers).
  NativeHandle native_handle() const { return handle_; }
  uint64_t size() const { return identity_.size; }
  const FileIdentity& identity() const { return identity_; }

  // Reads exactly dst.size() bytes at `offset`; retries EINTR and short
  // reads, fails (naming file and offset) on EOF or an I/O error.
  Status read_exact(uint64_t offset, std::span<std::byte> dst) const;

  // Whether the file is still what was opened: same size and mtime through
  // the descriptor (not truncated or rewritten in place), and the path
  // still names the same inode (not saved over or deleted). The error says
  // which, naming the file.
  Status check_unchanged() const;

 private:
  // Per platform: closes a handle File::open made (none is a no-op); the
  // identity of an open handle; the identity of what a path names now (the
  // error's message is the OS's reason, for check_unchanged to quote).
  static void close_handle(NativeHandle handle);
  static Result<FileIdentity> identity_of_handle(NativeHandle handle, const std::string& path);
  static Result<FileIdentity> identity_of_path(const std::string& path);
  File(std::string path, NativeHandle handle, FileIdentity identity)
      : path_(std::move(path)), handle_(handle), identity_(identity) {}
  std::string path_;
  NativeHandle handle_;
  FileIdentity identity_;
  bool unnamed_ = false;  // adopt_unnamed: no path to check
};

}  // namespace wm
