// Shared by the compute tests: random well-formed weights per dtype, and the
// reference decoding of them to double, written from the format definitions
// (ggml block layouts, IEEE half, bfloat16), independently of src/compute.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dtype/dtype.h"
#include "test_support.h"

namespace wm::test {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t x = (s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
};

inline uint16_t u16_at(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// A random finite half with |v| in about [2^-9, 2^6]: exponent field 6..21.
inline uint16_t random_half(SplitMix& rng) {
  uint64_t r = rng.next();
  auto exp = static_cast<uint16_t>(6 + r % 16);
  return static_cast<uint16_t>(((r >> 8) & 0x8000u) | (exp << 10) | ((r >> 20) & 0x3ffu));
}

// Bytes of a [rows x cols] matrix of `dtype` with finite values (and finite
// block scales for the quantised types).
inline std::vector<std::byte> random_weights(DType dtype, uint64_t rows, uint64_t cols, uint64_t seed) {
  const DTypeInfo& info = dtype_info(dtype);
  std::vector<std::byte> b(rows * (cols / info.block_elems) * info.block_bytes);
  SplitMix rng{seed};
  for (auto& x : b) x = static_cast<std::byte>(rng.next());
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); };
  switch (dtype) {
    case DType::F32:
      for (size_t at = 0; at < b.size(); at += 4) {
        float v = static_cast<float>(static_cast<int64_t>(rng.next() >> 40) - (1 << 23)) * 0x1p-20f;
        std::memcpy(b.data() + at, &v, 4);
      }
      break;
    case DType::F16:
      for (size_t at = 0; at < b.size(); at += 2) put16(at, random_half(rng));
      break;
    case DType::BF16:  // sign, exponent 118..133 (about 2^-9 .. 2^6), random mantissa
      for (size_t at = 0; at < b.size(); at += 2) {
        uint64_t r = rng.next();
        put16(at, static_cast<uint16_t>(((r & 1) << 15) | ((118 + (r >> 1) % 16) << 7) | ((r >> 8) & 0x7f)));
      }
      break;
    case DType::Q8_0:
      for (size_t at = 0; at < b.size(); at += 34) put16(at, random_half(rng));
      break;
    case DType::Q4_0:
      for (size_t at = 0; at < b.size(); at += 18) put16(at, random_half(rng));
      break;
    default:
      break;
  }
  return b;
}

// Every element as a double, from the format definitions.
inline std::vector<double> reference_decode(DType dtype, const std::byte* p, uint64_t nbytes) {
  std::vector<double> out;
  switch (dtype) {
    case DType::F32:
      for (uint64_t k = 0; k < nbytes / 4; ++k) {
        float v;
        std::memcpy(&v, p + 4 * k, 4);
        out.push_back(v);
      }
      break;
    case DType::F64:
      for (uint64_t k = 0; k < nbytes / 8; ++k) {
        double v;
        std::memcpy(&v, p + 8 * k, 8);
        out.push_back(v);
      }
      break;
    case DType::F16:
      for (uint64_t k = 0; k < nbytes / 2; ++k) out.push_back(half_value(u16_at(p + 2 * k)));
      break;
    case DType::BF16:  // the top half of an IEEE single
      for (uint64_t k = 0; k < nbytes / 2; ++k)
        out.push_back(std::bit_cast<float>(static_cast<uint32_t>(u16_at(p + 2 * k)) << 16));
      break;
    case DType::Q8_0:  // blocks of 34 bytes: F16 d, 32 x int8 q; x = d * q
      for (uint64_t b = 0; b < nbytes / 34; ++b) {
        double d = half_value(u16_at(p + 34 * b));
        for (int j = 0; j < 32; ++j) out.push_back(d * static_cast<int8_t>(p[34 * b + 2 + j]));
      }
      break;
    case DType::Q4_0:  // blocks of 18 bytes: F16 d, 16 bytes; x[j] = d*(lo-8), x[j+16] = d*(hi-8)
      for (uint64_t b = 0; b < nbytes / 18; ++b) {
        double d = half_value(u16_at(p + 18 * b));
        double x[32];
        for (int j = 0; j < 16; ++j) {
          auto q = static_cast<uint8_t>(p[18 * b + 2 + j]);
          x[j] = d * ((q & 15) - 8);
          x[j + 16] = d * ((q >> 4) - 8);
        }
        out.insert(out.end(), x, x + 32);
      }
      break;
    default:
      break;
  }
  return out;
}

}  // namespace wm::test
