// How the compute pass uses a tensor that gets no matrix-vector product (one
// dimension or none, or a dtype without a kernel): float dtypes are decoded
// and summed in double in element order (one thread, so the result never
// depends on threads or on how the bytes arrive in chunks); every other
// dtype is hashed (xxh3 of its bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dtype/dtype.h"

namespace wm {

// Whether `dtype`'s values are summed (else its bytes are hashed).
bool reduce_sums(DType dtype);

// Streams one tensor's bytes, in order, in chunks of whole blocks.
class TensorReducer {
 public:
  explicit TensorReducer(DType dtype);
  ~TensorReducer();
  TensorReducer(const TensorReducer&) = delete;
  TensorReducer& operator=(const TensorReducer&) = delete;

  // REQUIRES: nbytes is a whole number of dtype blocks.
  void add(const std::byte* data, uint64_t nbytes);
  // The sum's bits (double) for summed dtypes, else the xxh3 of the bytes.
  uint64_t value() const;
  // The sum so far. REQUIRES: reduce_sums(dtype).
  double sum() const { return sum_; }

 private:
  DType dtype_;
  double sum_ = 0;
  struct HashState;
  std::unique_ptr<HashState> hash_;
};

// One-shot: TensorReducer over `nbytes` at `data`.
uint64_t reduce_tensor(DType dtype, const std::byte* data, uint64_t nbytes);

}  // namespace wm
