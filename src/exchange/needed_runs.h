// The file bytes one rank's load reads, per file, as a few strided runs:
// what the exchange mode (exchange/run_exchange.h) must bring to the rank,
// small enough to send to every other rank.
#pragma once

#include <compare>
#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "format/tensor_table.h"

namespace wm {

// `count` pieces of `len` bytes, the first at `offset`, each `stride` bytes
// after the one before: a column slice's row segments, or (count 1) a
// plain tensor's or row slice's one range.
struct ByteRun {
  uint64_t offset = 0, count = 0, len = 0, stride = 0;
  uint64_t end() const { return offset + (count - 1) * stride + len; }  // REQUIRES: count > 0
  auto operator<=>(const ByteRun&) const = default;
};
using FileRuns = std::vector<ByteRun>;  // sorted; what one rank needs of one file

// Where one tensor's bytes lie in its file (count 0 when it has none).
ByteRun tensor_run(const TensorInfo& t);

// Per file of `table` (cut by shard_table already), the runs its tensors'
// bytes lie in, sorted. Empty tensors need nothing.
std::vector<FileRuns> needed_runs(const TensorTable& table);

// Calls fn(offset, len) for each piece of `runs`, clipped to [begin, end),
// in order: the order a sender packs and its receiver unpacks.
template <class Fn>
void for_each_piece(const FileRuns& runs, uint64_t begin, uint64_t end, Fn&& fn) {
  for (const ByteRun& r : runs) {
    if (r.offset >= end || r.end() <= begin) continue;
    uint64_t i = 0;
    if (begin > r.offset && r.count > 1) i = (begin - r.offset) / r.stride;
    for (; i < r.count; ++i) {
      const uint64_t a = r.offset + i * r.stride, b = a + r.len;
      if (a >= end) break;
      const uint64_t lo = a > begin ? a : begin, hi = b < end ? b : end;
      if (lo < hi) fn(lo, hi - lo);
    }
  }
}

// Bytes of `runs` within [begin, end).
uint64_t bytes_within(const FileRuns& runs, uint64_t begin, uint64_t end);

// Flat encoding, for passing to the other ranks: per file a count, then
// four words per run. decode_runs checks the shape (a bad peer is an error,
// not a crash).
std::vector<uint64_t> encode_runs(const std::vector<FileRuns>& runs);
Result<std::vector<FileRuns>> decode_runs(std::span<const uint64_t> words, size_t files);

}  // namespace wm
