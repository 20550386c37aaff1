// Shared by the compute tests: random well-formed weights per dtype, and the
// reference decoding of them to double, written from the format definitions
// (ggml block layouts, IEEE half, bfloat16), independently of src/compute.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
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
    case DType::Q5_0:
      for (size_t at = 0; at < b.size(); at += 22) put16(at, random_half(rng));
      break;
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:  // d and m (or dmin) first
      for (size_t at = 0; at < b.size(); at += info.block_bytes) {
        put16(at, random_half(rng));
        put16(at + 2, random_half(rng));
      }
      break;
    case DType::Q6_K:  // d last
      for (size_t at = 0; at < b.size(); at += 210) put16(at + 208, random_half(rng));
      break;
    default:
      break;
  }
  return b;
}

// Every element as a double, from the format definitions. With `magnitude`,
// also each element's |d * sc * q| + |dmin * m| for Q4_K and Q5_K (the two
// terms the K-quant kernels combine), |element| for every other type.
inline std::vector<double> reference_decode(DType dtype, const std::byte* p, uint64_t nbytes,
                                            std::vector<double>* magnitude = nullptr) {
  std::vector<double> out;
  if (magnitude) magnitude->clear();
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
    case DType::Q4_1:  // blocks of 20 bytes: F16 d, F16 m, 16 bytes; x[j] = d*lo + m, x[j+16] = d*hi + m
      for (uint64_t b = 0; b < nbytes / 20; ++b) {
        const std::byte* blk = p + 20 * b;
        double d = half_value(u16_at(blk)), m = half_value(u16_at(blk + 2));
        double x[32];
        for (int j = 0; j < 16; ++j) {
          auto q = static_cast<uint8_t>(blk[4 + j]);
          x[j] = d * (q & 15) + m;
          x[j + 16] = d * (q >> 4) + m;
        }
        out.insert(out.end(), x, x + 32);
      }
      break;
    case DType::Q5_0:  // 22 bytes: F16 d, u32 qh, 16 bytes; element i's fifth bit is bit i of qh; x = d*(q-16)
    case DType::Q5_1: {  // 24 bytes: F16 d, F16 m, u32 qh, 16 bytes; x = d*q + m
      bool one = dtype == DType::Q5_1;
      uint64_t bytes = one ? 24 : 22;
      for (uint64_t b = 0; b < nbytes / bytes; ++b) {
        const std::byte* blk = p + bytes * b;
        double d = half_value(u16_at(blk)), m = one ? half_value(u16_at(blk + 2)) : 0.0;
        const std::byte* qh = blk + (one ? 4 : 2);
        const std::byte* qs = qh + 4;
        double x[32];
        for (int i = 0; i < 32; ++i) {
          auto byte = static_cast<uint8_t>(qs[i % 16]);
          int nib = i < 16 ? (byte & 15) : (byte >> 4);
          int fifth = (static_cast<uint8_t>(qh[i / 8]) >> (i % 8)) & 1;
          int q = nib + 16 * fifth;
          x[i] = one ? d * q + m : d * (q - 16);
        }
        out.insert(out.end(), x, x + 32);
      }
      break;
    }
    case DType::Q4_K:  // 144 bytes: F16 d, F16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
    case DType::Q5_K: {  // 176 bytes: as Q4_K with 32 bytes qh (fifth bits) before the nibbles
      bool five = dtype == DType::Q5_K;
      uint64_t bytes = five ? 176 : 144;
      for (uint64_t b = 0; b < nbytes / bytes; ++b) {
        const std::byte* blk = p + bytes * b;
        double d = half_value(u16_at(blk)), dmin = half_value(u16_at(blk + 2));
        auto s = [&](int k) { return static_cast<int>(static_cast<uint8_t>(blk[4 + k])); };
        const std::byte* qh = blk + 16;
        const std::byte* qs = blk + (five ? 48 : 16);
        // 64 elements per 32 bytes of qs: low nibbles (sub-block 2p), then high nibbles (2p + 1).
        for (int sub = 0; sub < 8; ++sub) {
          int sc = sub < 4 ? s(sub) & 63 : (s(sub + 4) & 15) | ((s(sub - 4) >> 6) << 4);
          int mn = sub < 4 ? s(sub + 4) & 63 : (s(sub + 4) >> 4) | ((s(sub) >> 6) << 4);
          for (int l = 0; l < 32; ++l) {
            auto byte = static_cast<uint8_t>(qs[32 * (sub / 2) + l]);
            int q = sub % 2 == 0 ? (byte & 15) : (byte >> 4);
            if (five) q += 16 * ((static_cast<uint8_t>(qh[l]) >> sub) & 1);
            out.push_back(d * sc * q - dmin * mn);
            if (magnitude) magnitude->push_back(std::fabs(d * sc * q) + std::fabs(dmin * mn));
          }
        }
      }
      break;
    }
    case DType::Q6_K:  // 210 bytes: ql[128], qh[64], int8 scales[16], F16 d (ggml's dequantize_row_q6_K loops)
      for (uint64_t b = 0; b < nbytes / 210; ++b) {
        const std::byte* blk = p + 210 * b;
        double d = half_value(u16_at(blk + 208));
        double x[256];
        for (int half = 0; half < 2; ++half) {
          const std::byte* ql = blk + 64 * half;
          const std::byte* qh = blk + 128 + 32 * half;
          const std::byte* sc = blk + 192 + 8 * half;
          for (int l = 0; l < 32; ++l) {
            auto L = [&](int k) { return static_cast<int>(static_cast<uint8_t>(ql[k])); };
            int h = static_cast<uint8_t>(qh[l]);
            int q1 = ((L(l) & 15) | (((h >> 0) & 3) << 4)) - 32;
            int q2 = ((L(l + 32) & 15) | (((h >> 2) & 3) << 4)) - 32;
            int q3 = ((L(l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
            int q4 = ((L(l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
            auto S = [&](int k) { return static_cast<double>(static_cast<int8_t>(sc[k])); };
            int is = l / 16;
            x[128 * half + l] = d * S(is) * q1;
            x[128 * half + l + 32] = d * S(is + 2) * q2;
            x[128 * half + l + 64] = d * S(is + 4) * q3;
            x[128 * half + l + 96] = d * S(is + 6) * q4;
          }
        }
        out.insert(out.end(), x, x + 256);
      }
      break;
    default:
      break;
  }
  if (magnitude && magnitude->size() != out.size())
    for (double v : out) magnitude->push_back(std::fabs(v));
  return out;
}

// x quantised to Q8_K as ggml's quantize_row_q8_K_ref does, per 256
// elements: the value of largest magnitude, max, gives iscale = -127 / max
// (float); q = min(127, round-half-even(iscale * x)); d = 1 / iscale; an
// all-zero block has d = 0. x[k] ~ d[k / 256] * q[k].
struct RefQ8K {
  std::vector<float> d;
  std::vector<int> q;
  std::vector<float> amax;  // max |x| per block
};
inline RefQ8K reference_q8k(const std::vector<float>& x) {
  RefQ8K out;
  for (size_t b = 0; b < x.size() / 256; ++b) {
    const float* xb = x.data() + 256 * b;
    float max = 0, amax = 0;
    for (int k = 0; k < 256; ++k)
      if (std::fabs(xb[k]) > amax) {
        amax = std::fabs(xb[k]);
        max = xb[k];
      }
    out.amax.push_back(amax);
    if (amax == 0) {
      out.d.push_back(0);
      out.q.insert(out.q.end(), 256, 0);
      continue;
    }
    float iscale = -127.f / max;
    for (int k = 0; k < 256; ++k) {
      float scaled = iscale * xb[k];
      out.q.push_back(std::min(127, static_cast<int>(std::nearbyint(scaled))));
    }
    out.d.push_back(1 / iscale);
  }
  return out;
}

}  // namespace wm::test
