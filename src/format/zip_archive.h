// Reads the directory of a zip archive (PyTorch checkpoints are zips): the
// end-of-central-directory record, ZIP64 records when sizes or counts
// overflow 32 bits, every central directory entry, and each entry's local
// header, so that an entry's data is known by its absolute byte offset. A
// stored (uncompressed) entry can then be mapped in place; a deflated one is
// inflated on read. Nothing is trusted before it is checked against the
// archive's size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "format/byte_source.h"

namespace wm {

enum class ZipMethod : uint16_t { kStored = 0, kDeflated = 8 };

struct ZipEntry {
  std::string name;
  ZipMethod method = ZipMethod::kStored;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;    // bytes at data_offset
  uint64_t uncompressed_size = 0;  // bytes after inflating (== compressed_size when stored)
  uint64_t header_offset = 0;      // local file header
  uint64_t data_offset = 0;        // first byte of the entry's data
};

// Immutable after open(); safe to share between threads.
class ZipArchive {
 public:
  // Reads the directory and every local header. Fails, naming the byte
  // offset, on anything malformed: no end record, a record past the end,
  // encryption, multi-disk archives, an entry method other than stored or
  // deflate, entry data outside the archive, two entries of the same name.
  static Result<ZipArchive> open(const ByteSource& src);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(std::string_view name) const;

  // The whole contents of an entry (inflated, CRC checked), refusing entries
  // larger than `max_bytes`.
  Result<std::vector<std::byte>> read(const ByteSource& src, const ZipEntry& entry, uint64_t max_bytes) const;

 private:
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

// Inflates raw deflate data (zip method 8) from `src` at [offset, offset +
// compressed_size) and delivers the inflated bytes [skip, skip + dst.size())
// into `dst`, stopping as soon as dst is full. With `expected_crc`, it
// inflates the whole entry instead and fails unless its CRC-32 matches (a
// range alone cannot be checked). Errors name `entry_name`.
Status inflate_range(const ByteSource& src, uint64_t offset, uint64_t compressed_size, uint64_t skip,
                     std::span<std::byte> dst, const std::string& entry_name,
                     std::optional<uint32_t> expected_crc = std::nullopt);

}  // namespace wm
