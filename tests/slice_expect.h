// What a tensor-parallel slice must hold, computed by plain arithmetic
// from the bytes a test wrote (shard_test, exchange_test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wm::test {

using Bytes = std::vector<std::byte>;

// Rows [r0, r0 + n) of a row-major tensor of `row_bytes` rows, then `pad` zero rows.
inline Bytes rows_of(const Bytes& full, uint64_t row_bytes, uint64_t r0, uint64_t n, uint64_t pad = 0) {
  Bytes out(full.begin() + static_cast<std::ptrdiff_t>(r0 * row_bytes),
            full.begin() + static_cast<std::ptrdiff_t>((r0 + n) * row_bytes));
  out.resize(out.size() + pad * row_bytes, std::byte{0});
  return out;
}

// Bytes [b0, b0 + n) of every row, then `pad` zero bytes per row.
inline Bytes cols_of(const Bytes& full, uint64_t rows, uint64_t b0, uint64_t n, uint64_t pad = 0) {
  const uint64_t row = full.size() / rows;
  Bytes out;
  for (uint64_t r = 0; r < rows; ++r) {
    const auto at = full.begin() + static_cast<std::ptrdiff_t>(r * row + b0);
    out.insert(out.end(), at, at + static_cast<std::ptrdiff_t>(n));
    out.resize(out.size() + pad, std::byte{0});
  }
  return out;
}

}  // namespace wm::test
