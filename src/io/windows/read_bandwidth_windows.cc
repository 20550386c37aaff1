// The cold bound on Windows: the file read once unbuffered
// (FILE_FLAG_NO_BUFFERING, through DirectFile), one read at a time. The
// overlapped reader reads through the cache (io/windows/uring_reader_windows.cc),
// so it cannot give a cold figure; with one read in flight this is a lower
// bound of what the device can do.
#include "io/read_bandwidth.h"

namespace wm {

Result<ReadBandwidth> direct_read_bandwidth(const std::string& path, uint64_t block_bytes, unsigned) {
  return serial_direct_read_bandwidth(path, block_bytes);
}

}  // namespace wm
