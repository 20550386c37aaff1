// serial_direct_read_bandwidth: one uncached read at a time through
// DirectFile, into one aligned bounce buffer.
#include <algorithm>
#include <chrono>
#include <memory>

#include "io/direct_file.h"
#include "io/fault_injection.h"
#include "io/file.h"
#include "io/read_bandwidth.h"

namespace wm {

Result<ReadBandwidth> serial_direct_read_bandwidth(const std::string& path, uint64_t block_bytes) {
  auto file = File::open(path);
  if (!file) return file.error();
  auto direct = DirectFile::open(*file);
  if (!direct) return direct.error();
  const uint64_t align = direct->memory_align();
  const uint64_t cover = (block_bytes + 2 * direct->offset_align() + align - 1) / align * align;
  std::unique_ptr<std::byte, void (*)(void*)> bounce(
      static_cast<std::byte*>(sys::native_aligned_alloc(align, cover)), &sys::aligned_free);
  if (!bounce) return Error{path, {}, {}, "out of memory for the read buffer"};
  auto start = std::chrono::steady_clock::now();
  for (uint64_t offset = 0; offset < file->size(); offset += block_bytes) {
    uint64_t len = std::min(block_bytes, file->size() - offset);
    if (auto r = direct->read(offset, len, {bounce.get(), cover}); !r) return r.error();
  }
  ReadBandwidth bw;
  bw.bytes = file->size();
  bw.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return bw;
}

}  // namespace wm
