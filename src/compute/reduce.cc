#include "compute/reduce.h"

#include <algorithm>
#include <bit>
#include <cstring>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "dtype/convert.h"

namespace wm {

struct TensorReducer::HashState {
  XXH3_state_t state;
};

bool reduce_sums(DType dtype) {
  switch (dtype) {
    case DType::F64: return true;
    default: return dtype_info(dtype).is_float && can_convert(dtype, DType::F32);
  }
}

TensorReducer::TensorReducer(DType dtype) : dtype_(dtype) {
  if (!reduce_sums(dtype)) {
    hash_ = std::make_unique<HashState>();
    XXH3_64bits_reset(&hash_->state);
  }
}

TensorReducer::~TensorReducer() = default;

void TensorReducer::add(const std::byte* data, uint64_t nbytes) {
  if (hash_) {
    XXH3_64bits_update(&hash_->state, data, nbytes);
    return;
  }
  if (dtype_ == DType::F64) {  // summed as is: converting to F32 first would round
    for (uint64_t k = 0; k < nbytes / 8; ++k) {
      double v;
      std::memcpy(&v, data + 8 * k, 8);
      sum_ += v;
    }
    return;
  }
  // Decoded to F32 (exact for F16, BF16, F8, Q8_0, Q4_0) a few blocks at a time.
  const DTypeInfo& info = dtype_info(dtype_);
  constexpr uint64_t kMaxElems = 1024;  // a multiple of every block size used here (1, 32)
  float buf[kMaxElems];
  uint64_t chunk_bytes = kMaxElems / info.block_elems * info.block_bytes;
  for (uint64_t at = 0; at < nbytes; at += chunk_bytes) {
    uint64_t n = elements_in(dtype_, std::min(chunk_bytes, nbytes - at));
    convert(dtype_, DType::F32, data + at, reinterpret_cast<std::byte*>(buf), n);
    for (uint64_t k = 0; k < n; ++k) sum_ += buf[k];
  }
}

uint64_t TensorReducer::value() const {
  return hash_ ? XXH3_64bits_digest(&hash_->state) : std::bit_cast<uint64_t>(sum_);
}

uint64_t reduce_tensor(DType dtype, const std::byte* data, uint64_t nbytes) {
  TensorReducer r(dtype);
  r.add(data, nbytes);
  return r.value();
}

}  // namespace wm
