// The bookkeeping of a read with several pieces in flight
// (io/uring_reader.h), the same for every platform's reader: how the range
// is split, and what one completed piece means (done, issue the rest
// again, or an error naming the file and offset).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "io/native_handle.h"

namespace wm {

// [start, end) of the destination; `done` bytes of it are in.
struct ReadPiece {
  uint64_t start = 0, end = 0, done = 0;
  uint64_t left() const { return end - start - done; }
};

// `bytes` in pieces of at most `piece_bytes`, in order.
std::vector<ReadPiece> split_read(uint64_t bytes, uint64_t piece_bytes);

enum class PieceStep { kAgain, kDone };

// Applies one completed read of `piece` of `file` (the range starts at
// `offset`): `res` is the bytes read, 0 at end of file, or -errno, and goes
// through the fault-injection seam first. kAgain: issue the rest again
// (EINTR, EAGAIN, a short read); kDone: complete. End of file before the
// piece is full and failures are errors naming `path` and the offset,
// with `reader` ("io_uring read") saying what failed.
Result<PieceStep> finish_piece(NativeHandle file, ReadPiece& piece, int res, const std::string& path, uint64_t offset,
                               std::string_view reader);

}  // namespace wm
