// The arithmetic of the GPU conversion kernels (convert_kernels.cu), written
// once for host and device: element and block decoders whose results are
// bit-identical to the CPU conversion (dtype/convert.cc, dtype/half.h, the
// block codecs in dtype/quant_legacy.cc and dtype/quant_k.cc). Header-only,
// plain C++20 that nvcc also compiles; no CUDA headers, no OS headers, no
// <cmath>. tests/cuda_convert_math_test.cc checks it on the host against
// wm::convert for every F16/BF16/F8 bit pattern, F32 edge cases and random
// quantised blocks.
//
// How the CPU's results are reproduced:
//   - F16/BF16/F8 encodings are integer bit manipulation, copied from
//     dtype/half.h and dtype/convert.cc (round to nearest even; an F16 NaN
//     becomes sign | 0x7e00 (payload dropped), a BF16 NaN keeps its top
//     payload bits with the quiet bit set, an F8_E4M3 NaN of either sign
//     decodes to +qNaN 0x7fc00000, an F8_E5M2 NaN keeps sign and payload).
//     The CPU's float arithmetic in them (F16 and E4M3 subnormals: exact
//     products, ldexp) is built from bits here: the same values.
//   - Every CPU conversion between different types goes through one float:
//     decode the source (or dequantise its block) to float, then encode the
//     target (F32: the bits as they are). Same here.
//   - The dequantisers' products and sums are computed one rounded IEEE
//     operation at a time, in the CPU code's order ((d * sc) * q, then
//     - m), never fused into an FMA (the CPU compiles src/dtype with
//     -ffp-contract=off; here: __fmul_rn/__fadd_rn/__fsub_rn on the device,
//     which nvcc never contracts, and a volatile round trip on the host).
//   - NaN results follow the host CPU's float unit, not the GPU's (which
//     returns the canonical 0x7fffffff for any NaN result): an operation
//     with a NaN operand returns a NaN operand, quieted: on x86 (SSE) the
//     first NaN operand; on Arm (AArch64, AArch32 VFP) a signalling one
//     first, then the first quiet one (they differ for Q4_1/Q5_1's q * d + m
//     when the product is a quiet NaN and m a signalling one: x86 gives the
//     product's NaN, Arm m's). An invalid operation (inf * 0, inf - inf)
//     returns the host's default NaN: 0xffc00000 on x86 (the "real
//     indefinite"), 0x7fc00000 on Arm. So a block whose f16 scales are
//     infinite or NaN gives the CPU's bits too. Other host architectures
//     need their rules here (the test's HostFloatUnitFollowsTheNanModel
//     fails on one that differs).
//   - One result the CPU source leaves to its compiler: Q4_1/Q5_1's
//     q * d + m when both the product and m are NaN. Addition commutes, so
//     a compiler may emit m + q * d, and which NaN comes out depends on it:
//     GCC (x86-64, AArch64) and Clang (x86-64) keep the source order, the
//     product's NaN as here; Clang for AArch64 at -O3 emits m first and
//     gives m's. The test accepts exactly that difference (and says so).
#pragma once

#include <cstdint>
#include <type_traits>

#include "dtype/dtype.h"

#if defined(__CUDACC__)
#define WM_HD __host__ __device__ __forceinline__
#else
#define WM_HD inline
#endif

namespace wm::cuda {

// ---------------------------------------------------------------- bits

WM_HD uint32_t bits_of(float f) { return __builtin_bit_cast(uint32_t, f); }
WM_HD float float_of(uint32_t x) { return __builtin_bit_cast(float, x); }
WM_HD bool is_nan_bits(uint32_t x) { return (x & 0x7fffffffu) > 0x7f800000u; }

// Little-endian fields at any alignment (block fields are unaligned: a Q4_0
// block is 18 bytes).
WM_HD uint32_t le16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8); }
WM_HD uint32_t le32(const uint8_t* p) { return le16(p) | (le16(p + 2) << 16); }
WM_HD void put_le16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
WM_HD void put_le32(uint8_t* p, uint32_t v) {
  put_le16(p, v & 0xffffu);
  put_le16(p + 2, v >> 16);
}

// ---------------------------------------------------------------- host float unit NaN model

// Architecture macros, not OS macros (cmake/CheckPlatform.cmake); nvcc
// defines the host's in its device pass too.
#if defined(__aarch64__) || defined(__arm__) || defined(_M_ARM64) || defined(_M_ARM)
#define WM_HOST_NAN_RULES_ARM 1
#else
#define WM_HOST_NAN_RULES_ARM 0
#endif

// The NaN the host CPU gives for an invalid operation (inf * 0, inf - inf).
WM_HD uint32_t default_nan_bits() { return WM_HOST_NAN_RULES_ARM ? 0x7fc00000u : 0xffc00000u; }

WM_HD bool is_signalling_nan_bits(uint32_t x) { return is_nan_bits(x) && !(x & 0x00400000u); }

// The result r of an IEEE operation on a and b as the host CPU gives it: a
// NaN operand quieted (Arm: a signalling one first; then the first), else
// the default NaN if r is a NaN.
WM_HD float host_nan_rules(float a, float b, float r) {
  const uint32_t ua = bits_of(a), ub = bits_of(b);
  if (WM_HOST_NAN_RULES_ARM && is_signalling_nan_bits(ua)) return float_of(ua | 0x00400000u);
  if (WM_HOST_NAN_RULES_ARM && is_signalling_nan_bits(ub)) return float_of(ub | 0x00400000u);
  if (is_nan_bits(ua)) return float_of(ua | 0x00400000u);
  if (is_nan_bits(ub)) return float_of(ub | 0x00400000u);
  if (is_nan_bits(bits_of(r))) return float_of(default_nan_bits());
  return r;
}

// One rounded operation each, never contracted with a neighbour into an FMA.
WM_HD float rn_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  volatile float r = a * b;
  return r;
#endif
}
WM_HD float rn_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  volatile float r = a + b;
  return r;
#endif
}
WM_HD float rn_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  volatile float r = a - b;
  return r;
#endif
}

// The CPU's a * b, a + b, a - b, NaNs included.
WM_HD float mul(float a, float b) { return host_nan_rules(a, b, rn_mul(a, b)); }
WM_HD float add(float a, float b) { return host_nan_rules(a, b, rn_add(a, b)); }
WM_HD float sub(float a, float b) { return host_nan_rules(a, b, rn_sub(a, b)); }

WM_HD float to_float(int v) { return static_cast<float>(v); }  // exact: |v| < 2^24 here

// ---------------------------------------------------------------- F16, BF16, F8 (dtype/half.h)

WM_HD uint16_t f32_to_bf16(float f) {
  uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

WM_HD float bf16_to_f32(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

WM_HD uint16_t f32_to_f16(float f) {
  const uint32_t x = bits_of(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN: payload dropped
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (after rounding) -> inf
  if (abs < 0x38800000u) {                                               // subnormal or zero in F16
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);           // below half the smallest subnormal
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14 .. 24
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

WM_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return float_of(sign | 0x7f800000u | (mant << 13));  // inf, NaN with its payload
  if (exp == 0) {
    if (mant == 0) return float_of(sign);
    // The CPU's mant * 2^-24 (exact, a normal float), built from bits:
    // mant = 1.f * 2^k with k = the index of its top bit.
    int k = 9;
    while (!((mant >> k) & 1u)) --k;
    const uint32_t frac = (mant << (23 - k)) & 0x7fffffu;
    return float_of(sign | (static_cast<uint32_t>(k - 24 + 127) << 23) | frac);
  }
  return float_of(sign | ((exp + 112) << 23) | (mant << 13));
}

// E4M3 "fn": bias 7, no infinities, S.1111.111 is NaN, decoded (as the CPU
// does) to the positive quiet NaN 0x7fc00000 whatever its sign.
WM_HD float f8_e4m3_to_f32(uint8_t v) {
  const uint32_t sign = static_cast<uint32_t>(v >> 7) << 31, exp = (v >> 3) & 0xfu, mant = v & 0x7u;
  if (exp == 0xf && mant == 0x7) return float_of(0x7fc00000u);
  if (exp == 0) {
    if (mant == 0) return float_of(sign);
    // mant/8 * 2^-6 = 1.f * 2^(k-9), k the top bit of mant.
    const uint32_t k = mant >= 4 ? 2u : mant >= 2 ? 1u : 0u;
    const uint32_t frac = (mant << (23 - k)) & 0x7fffffu;
    return float_of(sign | ((k - 9 + 127) << 23) | frac);
  }
  return float_of(sign | ((exp - 7 + 127) << 23) | (mant << 20));
}

// E5M2 is the top byte of an IEEE half.
WM_HD float f8_e5m2_to_f32(uint8_t v) { return f16_to_f32(static_cast<uint16_t>(static_cast<uint16_t>(v) << 8)); }

WM_HD float f16_at(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(le16(p))); }

// ---------------------------------------------------------------- quantised blocks (ggml layouts)
// Element e (0 .. block elements - 1) of the block at b, as the CPU's
// dequantiser computes it, operation for operation.

constexpr uint32_t kQK = 32;    // the legacy types' block
constexpr uint32_t kQKK = 256;  // the K-quants' super-block

// Q8_0: d (f16) | 32 x int8; value q * d.
WM_HD float q8_0_value(const uint8_t* b, uint32_t e) {
  return mul(to_float(static_cast<int8_t>(b[2 + e])), f16_at(b));
}

// Q4_0: d (f16) | 16 bytes: element j the low nibble of byte j, j + 16 its
// high nibble; value (q - 8) * d.
WM_HD float q4_0_value(const uint8_t* b, uint32_t e) {
  const uint32_t byte = b[2 + (e & 15)];
  const int q = static_cast<int>(e < 16 ? byte & 0x0f : byte >> 4);
  return mul(to_float(q - 8), f16_at(b));
}

// Q4_1: d, m (f16) | 16 nibble bytes as Q4_0; value q * d + m.
WM_HD float q4_1_value(const uint8_t* b, uint32_t e) {
  const uint32_t byte = b[4 + (e & 15)];
  const int q = static_cast<int>(e < 16 ? byte & 0x0f : byte >> 4);
  return add(mul(to_float(q), f16_at(b)), f16_at(b + 2));
}

// The fifth bit of element e of Q5_0/Q5_1 is bit e of the 32-bit qh.
WM_HD int q5_level(const uint8_t* qs, uint32_t qh, uint32_t e) {
  const uint32_t byte = qs[e & 15];
  const uint32_t low = e < 16 ? byte & 0x0f : byte >> 4;
  return static_cast<int>(low | (((qh >> e) & 1u) << 4));
}

// Q5_0: d (f16) | qh (u32) | 16 nibble bytes; value (q - 16) * d.
WM_HD float q5_0_value(const uint8_t* b, uint32_t e) {
  return mul(to_float(q5_level(b + 6, le32(b + 2), e) - 16), f16_at(b));
}

// Q5_1: d, m (f16) | qh (u32) | 16 nibble bytes; value q * d + m.
WM_HD float q5_1_value(const uint8_t* b, uint32_t e) {
  return add(mul(to_float(q5_level(b + 8, le32(b + 4), e)), f16_at(b)), f16_at(b + 2));
}

// Scale and min of sub-block j (0..7) of Q4_K/Q5_K from the 12 bytes at q
// (dtype/k_scales.h, ggml's get_scale_min_k4).
WM_HD void scale_min_k4(uint32_t j, const uint8_t* q, uint32_t* sc, uint32_t* m) {
  if (j < 4) {
    *sc = q[j] & 63u;
    *m = q[j + 4] & 63u;
  } else {
    *sc = (q[j + 4] & 0xfu) | ((static_cast<uint32_t>(q[j - 4]) >> 6) << 4);
    *m = (static_cast<uint32_t>(q[j + 4]) >> 4) | ((static_cast<uint32_t>(q[j]) >> 6) << 4);
  }
}

// Q4_K: d | dmin (f16) | scales[12] | qs[128]: element e is nibble (e/32)%2
// of byte 32 * (e / 64) + e % 32; value (d * sc) * q - (dmin * m).
WM_HD float q4_k_value(const uint8_t* b, uint32_t e) {
  const uint32_t j = e / 32, l = e % 32;
  uint32_t sc, m;
  scale_min_k4(j, b + 4, &sc, &m);
  const float d1 = mul(f16_at(b), to_float(static_cast<int>(sc)));
  const float m1 = mul(f16_at(b + 2), to_float(static_cast<int>(m)));
  const int q = static_cast<int>((b[16 + 32 * (j / 2) + l] >> (4 * (j % 2))) & 0xfu);
  return sub(mul(d1, to_float(q)), m1);
}

// Q5_K: d | dmin | scales[12] | qh[32] | qs[128]: the low four bits as
// Q4_K, the fifth is bit j of qh[l].
WM_HD float q5_k_value(const uint8_t* b, uint32_t e) {
  const uint32_t j = e / 32, l = e % 32;
  uint32_t sc, m;
  scale_min_k4(j, b + 4, &sc, &m);
  const float d1 = mul(f16_at(b), to_float(static_cast<int>(sc)));
  const float m1 = mul(f16_at(b + 2), to_float(static_cast<int>(m)));
  const int low = static_cast<int>((b[48 + 32 * (j / 2) + l] >> (4 * (j % 2))) & 0xfu);
  const int high = static_cast<int>((b[16 + l] >> j) & 1u);
  return sub(mul(d1, to_float(low + 16 * high)), m1);
}

// Q6_K: ql[128] | qh[64] | scales[16] (int8) | d (f16). In half h, element
// h * 128 + 32 * k + l takes nibble k / 2 of ql[64 h + l + 32 (k % 2)] and
// bits 2k of qh[32 h + l]; value (d * sc) * (q - 32).
WM_HD float q6_k_value(const uint8_t* b, uint32_t e) {
  const uint32_t h = e / 128, k = (e % 128) / 32, l = e % 32;
  const uint32_t low = (b[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xfu;
  const uint32_t high = (b[128 + 32 * h + l] >> (2 * k)) & 3u;
  const int q = static_cast<int>(low | (high << 4)) - 32;
  const float ds = mul(f16_at(b + 208), to_float(static_cast<int8_t>(b[192 + e / 16])));
  return mul(ds, to_float(q));
}

// ---------------------------------------------------------------- the type table's part the kernels use

// Elements and bytes per block of the types the kernels read (the values
// of dtype/dtype.cc; the test checks them); 0 for any other type.
WM_HD constexpr uint32_t gpu_block_elems(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::F8_E4M3: case DType::F8_E5M2: return 1;
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: return kQK;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return kQKK;
    default: return 0;
  }
}
WM_HD constexpr uint32_t gpu_block_bytes(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::F8_E4M3: case DType::F8_E5M2: return 1;
    case DType::Q8_0: return 34;
    case DType::Q4_0: return 18;
    case DType::Q4_1: return 20;
    case DType::Q5_0: return 22;
    case DType::Q5_1: return 24;
    case DType::Q4_K: return 144;
    case DType::Q5_K: return 176;
    case DType::Q6_K: return 210;
    default: return 0;
  }
}

// True when the GPU kernels convert `from` to `to`: a subset of
// wm::can_convert (checked by the test). A type to itself is a byte copy.
WM_HD constexpr bool gpu_convert_supported(DType from, DType to) {
  if (gpu_block_elems(from) == 0) return false;
  if (from == to) return true;
  const bool float_target = to == DType::F32 || to == DType::F16 || to == DType::BF16;
  if (from == DType::F8_E4M3 || from == DType::F8_E5M2) return to == DType::F32 || to == DType::F16;
  return float_target;
}

// ---------------------------------------------------------------- elements

// Element i of a tensor of `From` at src, as float. `Aligned`: src is
// aligned to the element size (float sources only; blocks are read bytewise).
template <DType From, bool Aligned>
WM_HD float load_value(const uint8_t* src, uint64_t i) {
  if constexpr (From == DType::F32) {
    if constexpr (Aligned) return static_cast<const float*>(static_cast<const void*>(src))[i];
    else return float_of(le32(src + 4 * i));
  } else if constexpr (From == DType::F16 || From == DType::BF16) {
    uint16_t h;
    if constexpr (Aligned) h = static_cast<const uint16_t*>(static_cast<const void*>(src))[i];
    else h = static_cast<uint16_t>(le16(src + 2 * i));
    return From == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  } else if constexpr (From == DType::F8_E4M3) {
    return f8_e4m3_to_f32(src[i]);
  } else if constexpr (From == DType::F8_E5M2) {
    return f8_e5m2_to_f32(src[i]);
  } else {
    constexpr uint32_t kElems = gpu_block_elems(From), kBytes = gpu_block_bytes(From);
    static_assert(kElems > 1, "not a block type the kernels read");
    const uint8_t* b = src + (i / kElems) * kBytes;
    const auto e = static_cast<uint32_t>(i % kElems);
    if constexpr (From == DType::Q8_0) return q8_0_value(b, e);
    else if constexpr (From == DType::Q4_0) return q4_0_value(b, e);
    else if constexpr (From == DType::Q4_1) return q4_1_value(b, e);
    else if constexpr (From == DType::Q5_0) return q5_0_value(b, e);
    else if constexpr (From == DType::Q5_1) return q5_1_value(b, e);
    else if constexpr (From == DType::Q4_K) return q4_k_value(b, e);
    else if constexpr (From == DType::Q5_K) return q5_k_value(b, e);
    else return q6_k_value(b, e);
  }
}

// Stores v as element i of a tensor of `To` (F32, F16, BF16) at dst.
template <DType To, bool Aligned>
WM_HD void store_value(uint8_t* dst, uint64_t i, float v) {
  static_assert(To == DType::F32 || To == DType::F16 || To == DType::BF16, "not a float target");
  if constexpr (To == DType::F32) {
    if constexpr (Aligned) static_cast<float*>(static_cast<void*>(dst))[i] = v;
    else put_le32(dst + 4 * i, bits_of(v));
  } else {
    const uint16_t h = To == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
    if constexpr (Aligned) static_cast<uint16_t*>(static_cast<void*>(dst))[i] = h;
    else put_le16(dst + 2 * i, h);
  }
}

// Element i of `from` to `to`, through one float as the CPU does.
template <DType From, DType To, bool Aligned>
WM_HD void convert_element(const uint8_t* src, uint8_t* dst, uint64_t i) {
  store_value<To, Aligned>(dst, i, load_value<From, Aligned>(src, i));
}

// Every value of one block of `From` (gpu_block_elems(From) floats) into out.
template <DType From>
WM_HD void dequantize_block(const uint8_t* block, float* out) {
  for (uint32_t e = 0; e < gpu_block_elems(From); ++e) out[e] = load_value<From, false>(block, e);
}

// Calls fn(std::integral_constant<DType, From>{}, std::integral_constant<DType, To>{})
// for a supported pair with from != to and returns true; false otherwise
// (from == to is a byte copy and never dispatched). The kernels' launcher
// and the test enumerate the pairs through this one function.
template <DType From, typename Fn>
bool dispatch_to(DType to, Fn&& fn) {
  auto call = [&](auto to_c) {
    if constexpr (decltype(to_c)::value != From && gpu_convert_supported(From, decltype(to_c)::value)) {
      fn(std::integral_constant<DType, From>{}, to_c);
      return true;
    } else {
      return false;
    }
  };
  switch (to) {
    case DType::F32: return call(std::integral_constant<DType, DType::F32>{});
    case DType::F16: return call(std::integral_constant<DType, DType::F16>{});
    case DType::BF16: return call(std::integral_constant<DType, DType::BF16>{});
    default: return false;
  }
}

template <typename Fn>
bool dispatch_conversion(DType from, DType to, Fn&& fn) {
  switch (from) {
    case DType::F32: return dispatch_to<DType::F32>(to, fn);
    case DType::F16: return dispatch_to<DType::F16>(to, fn);
    case DType::BF16: return dispatch_to<DType::BF16>(to, fn);
    case DType::F8_E4M3: return dispatch_to<DType::F8_E4M3>(to, fn);
    case DType::F8_E5M2: return dispatch_to<DType::F8_E5M2>(to, fn);
    case DType::Q8_0: return dispatch_to<DType::Q8_0>(to, fn);
    case DType::Q4_0: return dispatch_to<DType::Q4_0>(to, fn);
    case DType::Q4_1: return dispatch_to<DType::Q4_1>(to, fn);
    case DType::Q5_0: return dispatch_to<DType::Q5_0>(to, fn);
    case DType::Q5_1: return dispatch_to<DType::Q5_1>(to, fn);
    case DType::Q4_K: return dispatch_to<DType::Q4_K>(to, fn);
    case DType::Q5_K: return dispatch_to<DType::Q5_K>(to, fn);
    case DType::Q6_K: return dispatch_to<DType::Q6_K>(to, fn);
    default: return false;
  }
}

}  // namespace wm::cuda
