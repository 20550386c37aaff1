// The cold bound on Windows: the file read once unbuffered
// (FILE_FLAG_NO_BUFFERING, through DirectFile), one read at a time. The
// overlapped reader reads through the cache (io/windows/uring_reader_windows.cc),
// so it cannot give a cold figure; with one read in flight this is a lower
// bound of what the device can do.
#include "io/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "io/direct_file.h"
#include "io/fault_injection.h"
#include "io/file.h"

namespace wm {

Result<ReadBandwidth> direct_read_bandwidth(const std::string& path, uint64_t block_bytes, unsigned) {
  auto file = File::open(path);
  if (!file) return file.error();
  auto direct = DirectFile::open(*file);
  if (!direct) return direct.error();
  const uint64_t align = direct->memory_align();
  const uint64_t cover = (block_bytes + 2 * direct->offset_align() + align - 1) / align * align;
  std::unique_ptr<std::byte, void (*)(void*)> bounce(static_cast<std::byte*>(sys::native_aligned_alloc(align, cover)),
                                                     &sys::aligned_free);
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
