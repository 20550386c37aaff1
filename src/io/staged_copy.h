// A rank's private copy of the byte ranges it needs from a model file, for
// the exchange mode of tensor-parallel loading (exchange/run_exchange.h):
// a file of the model file's size that no path names (unlinked at once, so
// nothing is left behind however the process ends), holes except where
// written. Read back as a File, its bytes lie at the model file's offsets,
// so the parsed table applies to it unchanged.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "io/file.h"
#include "io/native_handle.h"

namespace wm {

class StagedCopy {
 public:
  // An empty copy of `size` bytes in folder `dir`; `label` names it in
  // errors (the model file it copies). POSIX only: elsewhere an error.
  static Result<StagedCopy> create(const std::string& dir, uint64_t size, std::string label);
  StagedCopy(StagedCopy&& other) noexcept;
  StagedCopy& operator=(StagedCopy&& other) noexcept;
  StagedCopy(const StagedCopy&) = delete;
  StagedCopy& operator=(const StagedCopy&) = delete;
  ~StagedCopy();

  // Writes `bytes` at `offset` (below the size). Not thread-safe.
  Status write(uint64_t offset, std::span<const std::byte> bytes);
  // A read-only File over the same bytes (its own descriptor), for the loader.
  Result<File> file() const;
  const std::string& label() const { return label_; }

 private:
  StagedCopy(NativeHandle handle, uint64_t size, std::string label)
      : handle_(handle), size_(size), label_(std::move(label)) {}
  NativeHandle handle_;
  uint64_t size_ = 0;
  std::string label_;
};

// Frees the whole pages of [offset, offset + len) of `staged`, a File from
// StagedCopy::file(), once nothing will read them again (what a column
// slice was gathered from); they read as zeros after. Pages only partly in
// the range are kept. Linux (FALLOC_FL_PUNCH_HOLE); elsewhere an error.
Status release_staged_range(const File& staged, uint64_t offset, uint64_t len);

// Where staged copies go by default: /dev/shm when it is a writable folder
// (memory: the copy costs no storage writes), else $TMPDIR, else /tmp.
std::string default_staging_dir();

// Names this machine's running kernel: the same on every process of one
// host boot, different across hosts (Linux: the boot id; elsewhere the
// host name). For telling whether ranks share a page cache.
std::string host_identity();

}  // namespace wm
