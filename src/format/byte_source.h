// Where a parser reads header bytes from: a file (normal use) or memory
// (fuzzing, tests). Parsers never read tensor data through this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "io/file.h"

namespace wm {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // The name errors use for this source (the file path).
  virtual const std::string& name() const = 0;
  // REQUIRES: offset + dst.size() <= size(). Fails only on I/O errors.
  virtual Status read(uint64_t offset, std::span<std::byte> dst) const = 0;
  // The file's identity when the source is a file; all zero for memory.
  virtual FileIdentity identity() const { return {}; }
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::span<const std::byte> bytes, std::string name)
      : bytes_(bytes), name_(std::move(name)) {}
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }
  Status read(uint64_t offset, std::span<std::byte> dst) const override;

 private:
  std::span<const std::byte> bytes_;
  std::string name_;
};

// Borrows the File; it must outlive the source.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(const File& file) : file_(file) {}
  uint64_t size() const override;
  const std::string& name() const override;
  Status read(uint64_t offset, std::span<std::byte> dst) const override;
  FileIdentity identity() const override { return file_.identity(); }

 private:
  const File& file_;
};

}  // namespace wm
