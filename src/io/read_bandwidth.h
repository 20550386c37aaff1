// The cold bound of a load: how fast this machine reads a file straight
// from the device, measured with O_DIRECT (no page cache involved, so the
// figure holds whatever is cached) and several reads in flight through
// io_uring, like `fio --direct=1 --bs=1M --iodepth=4`.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace wm {

struct ReadBandwidth {
  uint64_t bytes = 0;
  double seconds = 0;
  double gbps() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }
};

// Reads the whole file once (block_bytes per read, `depth` in flight).
Result<ReadBandwidth> direct_read_bandwidth(const std::string& path, uint64_t block_bytes = 1ull << 20,
                                            unsigned depth = 4);

// The same figure with one direct read at a time (DirectFile), for
// platforms without several uncached reads in flight: a lower bound of the
// device's rate.
Result<ReadBandwidth> serial_direct_read_bandwidth(const std::string& path, uint64_t block_bytes);

}  // namespace wm
