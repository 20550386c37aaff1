// The cold bound where there is no io_uring (macOS, the BSDs): one direct
// (uncached) read at a time, a lower bound of what the device can do with
// several reads in flight.
#include "io/read_bandwidth.h"

namespace wm {

Result<ReadBandwidth> direct_read_bandwidth(const std::string& path, uint64_t block_bytes, unsigned) {
  return serial_direct_read_bandwidth(path, block_bytes);
}

}  // namespace wm
