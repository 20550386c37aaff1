// Writes a file so that no reader ever sees it half-written: bytes go to a
// temporary file in the same folder, which is renamed over the target only
// by commit(). Dropping the writer without commit() removes the temporary.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

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
  AtomicFileWriter(std::string path, std::string tmp, int fd);
  Status flush();

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::vector<std::byte> buf_;
  uint64_t written_ = 0;
};

}  // namespace wm
