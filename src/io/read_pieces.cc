#include "io/read_pieces.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "io/fault_injection.h"

namespace wm {

std::vector<ReadPiece> split_read(uint64_t bytes, uint64_t piece_bytes) {
  std::vector<ReadPiece> pieces;
  for (uint64_t s = 0; s < bytes; s += piece_bytes) pieces.push_back({s, std::min(s + piece_bytes, bytes), 0});
  return pieces;
}

Result<PieceStep> finish_piece(NativeHandle file, ReadPiece& piece, int res, const std::string& path, uint64_t offset,
                               std::string_view reader) {
  const uint64_t at = offset + piece.start + piece.done;
  res = sys::uring_read_result(file, at, piece.left(), res);
  if (res == -EINTR || res == -EAGAIN) return PieceStep::kAgain;
  if (res < 0) return Error{path, {}, at, fmt::format("{} failed: {}", reader, std::strerror(-res))};
  if (res == 0)
    return Error{path, {}, at,
                 fmt::format("unexpected end of file (wanted {} more bytes; the file may have shrunk)", piece.left())};
  piece.done += static_cast<uint64_t>(res);
  return piece.left() > 0 ? PieceStep::kAgain : PieceStep::kDone;  // a short read goes on from where it stopped
}

}  // namespace wm
