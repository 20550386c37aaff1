// Writes a file so that no reader ever sees it half-written: bytes go to a
// temporary file in the same folder, which is renamed over the target only
// by commit(). Dropping the writer without commit() removes the temporary.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "io/native_handle.h"

namespace wm {

class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  Status write(std::span<const std::byte> bytes);
  Status write_zeros(size_t n);
  uint64_t bytes_written() const { return written_; }
  // Flushes, fsyncs and renames over the target path.
  Status commit();

 private:
  AtomicFileWriter(std::string path, std::string tmp, NativeHandle handle);
  Status flush();
  // Platform parts: make the temporary (readable by all, as a model file
  // should be), make it durable and put it in place, drop it.
  static Result<std::pair<std::string, NativeHandle>> create_temporary(const std::string& path);
  Status sync_close_and_rename();
  void close_and_remove_temporary();

  std::string path_;
  std::string tmp_path_;
  NativeHandle handle_;
  std::vector<std::byte> buf_;
  uint64_t written_ = 0;
};

}  // namespace wm
