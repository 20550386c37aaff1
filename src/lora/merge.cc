#include "lora/merge.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "dtype/convert.h"
#include "dtype/half.h"

namespace wm {

bool lora_can_patch(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8_0 || t == DType::Q4_0;
}

void quantize_row_q8_0(const float* x, std::byte* dst, uint64_t n) {
  for (uint64_t b = 0; b < n / 32; ++b, x += 32, dst += 34) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    float d = amax / 127.0f;
    float id = d != 0 ? 1.0f / d : 0.0f;
    uint16_t dh = f32_to_f16(d);
    std::memcpy(dst, &dh, 2);
    for (int j = 0; j < 32; ++j) dst[2 + j] = static_cast<std::byte>(static_cast<int8_t>(std::lround(x[j] * id)));
  }
}

void quantize_row_q4_0(const float* x, std::byte* dst, uint64_t n) {
  for (uint64_t b = 0; b < n / 32; ++b, x += 32, dst += 18) {
    // The value of largest magnitude, with its sign, maps to -8.
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    float d = max / -8.0f;
    float id = d != 0 ? 1.0f / d : 0.0f;
    uint16_t dh = f32_to_f16(d);
    std::memcpy(dst, &dh, 2);
    for (int j = 0; j < 16; ++j) {
      auto q = [&](float v) { return static_cast<uint8_t>(std::min(15, static_cast<int>(v * id + 8.5f))); };
      dst[2 + j] = static_cast<std::byte>(q(x[j]) | (q(x[j + 16]) << 4));
    }
  }
}

namespace {

void load_row(DType t, const std::byte* src, float* row, uint64_t cols) {
  if (t == DType::F32) {
    std::memcpy(row, src, cols * 4);
    return;
  }
  convert(t, DType::F32, src, reinterpret_cast<std::byte*>(row), cols);
}

void store_row(DType t, const float* row, std::byte* dst, uint64_t cols) {
  switch (t) {
    case DType::F32: std::memcpy(dst, row, cols * 4); break;
    case DType::F16:
    case DType::BF16: convert(DType::F32, t, reinterpret_cast<const std::byte*>(row), dst, cols); break;
    case DType::Q8_0: quantize_row_q8_0(row, dst, cols); break;
    case DType::Q4_0: quantize_row_q4_0(row, dst, cols); break;
    default: break;  // excluded by REQUIRES lora_can_patch
  }
}

}  // namespace

void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms) {
  std::vector<float> row(cols);
  add_lora_delta(t, data, rows, cols, terms, row);
}

void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms,
                    std::span<float> row) {
  const DTypeInfo& info = dtype_info(t);
  const uint64_t row_bytes = cols / info.block_elems * info.block_bytes;
  for (uint64_t i = 0; i < rows; ++i) {
    std::byte* p = data + i * row_bytes;
    load_row(t, p, row.data(), cols);
    for (const LoraTerm& term : terms) {
      const float* up = term.up.data() + i * term.rank;
      for (uint32_t k = 0; k < term.rank; ++k) {
        const float c = term.scale * up[k];
        const float* down = term.down.data() + k * cols;
        for (uint64_t j = 0; j < cols; ++j) row[j] += c * down[j];
      }
    }
    store_row(t, row.data(), p, cols);
  }
}

}  // namespace wm
