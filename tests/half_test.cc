// F16 and BF16 conversions against references built from the IEEE 754
// definitions with ldexp (decode) and nearest-value search (encode).
#include "dtype/half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

namespace wm {
namespace {

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
double ref_f16(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0x1f) v = m ? std::nan("") : INFINITY;
  else if (e == 0) v = std::ldexp(m, -24);                // m * 2^-14 * 2^-10
  else v = std::ldexp(1024 + m, e - 15 - 10);             // 1.m * 2^(e-15)
  return sign ? -v : v;
}

// bfloat16: 1 sign, 8 exponent (bias 127), 7 mantissa bits.
double ref_bf16(uint16_t h) {
  int sign = h >> 15, e = (h >> 7) & 0xff, m = h & 0x7f;
  double v;
  if (e == 0xff) v = m ? std::nan("") : INFINITY;
  else if (e == 0) v = std::ldexp(m, -126 - 7);
  else v = std::ldexp(128 + m, e - 127 - 7);
  return sign ? -v : v;
}

bool f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }
float from_bits(uint32_t x) { return std::bit_cast<float>(x); }

// A value exactly representable as float (checked).
float exact_float(double d) {
  float f = static_cast<float>(d);
  EXPECT_EQ(static_cast<double>(f), d);
  return f;
}

// ---------------------------------------------------------------- F16

TEST(HalfF16, DecodesEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float got = f16_to_f32(static_cast<uint16_t>(h));
    double want = ref_f16(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
    }
    ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
  }
}

TEST(HalfF16, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(0.5f), 0x3800);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);           // largest finite
  EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);           // smallest normal
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);           // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1.ff8p-15f), 0x03ff);       // largest subnormal
  EXPECT_EQ(f32_to_f16(0.1f), 0x2e66);
  EXPECT_EQ(f32_to_f16(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
}

TEST(HalfF16, EveryNonNanValueRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if (f16_is_nan(static_cast<uint16_t>(h))) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

// For every pair of neighbouring positive F16 values (the last pair being
// 65504 and the would-be next value 65536, i.e. infinity), the midpoint rounds
// to the one with an even mantissa, and a float one step either side of the
// midpoint rounds towards that side. Negative values mirror.
TEST(HalfF16, RoundsToNearestTiesToEvenAtEveryMidpoint) {
  for (uint16_t h = 0; h < 0x7c00; ++h) {
    double lo = ref_f16(h);
    double hi = h + 1 == 0x7c00 ? 65536.0 : ref_f16(static_cast<uint16_t>(h + 1));
    float mid = exact_float((lo + hi) / 2);
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(f32_to_f16(mid), even) << std::hex << h;
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, INFINITY)), h + 1) << std::hex << h;
    ASSERT_EQ(f32_to_f16(std::nextafter(mid, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(f32_to_f16(-mid), even | 0x8000) << std::hex << h;
    ASSERT_EQ(f32_to_f16(-std::nextafter(mid, INFINITY)), (h + 1) | 0x8000) << std::hex << h;
    ASSERT_EQ(f32_to_f16(-std::nextafter(mid, 0.0f)), h | 0x8000) << std::hex << h;
  }
}

TEST(HalfF16, Subnormals) {
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);        // tie between 0 and 2^-24: even is 0
  EXPECT_EQ(f32_to_f16(0x1.000002p-25f), 0x0001); // just above the tie
  EXPECT_EQ(f32_to_f16(0x1.8p-24f), 0x0002);      // 1.5 * 2^-24: tie between 1 and 2
  EXPECT_EQ(f32_to_f16(0x1.4p-23f), 0x0002);      // 2.5 * 2^-24: tie between 2 and 3
  EXPECT_EQ(f32_to_f16(0x1p-26f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0x1p-26f), 0x8000);       // underflow keeps the sign
  EXPECT_EQ(f32_to_f16(FLT_TRUE_MIN), 0x0000);
  EXPECT_EQ(f32_to_f16(-FLT_TRUE_MIN), 0x8000);
  EXPECT_EQ(f32_to_f16(FLT_MIN), 0x0000);
  // Rounding up out of the subnormals gives the smallest normal.
  EXPECT_EQ(f32_to_f16(0x1.ffcp-15f), 0x0400);    // midpoint of 0x3ff and 0x400: even is 0x400
  EXPECT_EQ(f32_to_f16(std::nextafter(0x1.ffcp-15f, 0.0f)), 0x03ff);
}

TEST(HalfF16, OverflowGoesToInfinity) {
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // tie: 0x7bff is odd, so up to infinity
  EXPECT_EQ(f32_to_f16(65536.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(FLT_MAX), 0x7c00);
  EXPECT_EQ(f32_to_f16(-FLT_MAX), 0xfc00);
  EXPECT_EQ(f32_to_f16(-65520.0f), 0xfc00);
}

TEST(HalfF16, NanStaysNan) {
  const uint32_t nans[] = {0x7f800001u, 0x7fc00000u, 0x7fffffffu, 0x7f802000u, 0x7fa00000u,
                           0xff800001u, 0xffc00000u, 0xffffffffu, 0x7f800fffu, 0x7f801000u};
  for (uint32_t x : nans) {
    uint16_t h = f32_to_f16(from_bits(x));
    EXPECT_TRUE(f16_is_nan(h)) << std::hex << x << " -> " << h;
    EXPECT_EQ(h >> 15, x >> 31) << std::hex << x;
  }
  for (uint32_t m = 1; m < 0x400; ++m) {
    for (uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
      uint16_t h = static_cast<uint16_t>(sign | 0x7c00 | m);
      float f = f16_to_f32(h);
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      uint16_t back = f32_to_f16(f);
      ASSERT_TRUE(f16_is_nan(back)) << std::hex << h;
      ASSERT_EQ(back & 0x8000, sign) << std::hex << h;
    }
  }
}

// Floats sampled across the whole 32-bit space against a nearest-value search
// over the sorted table of F16 values (ties to the even pattern).
TEST(HalfF16, SampledFloatsMatchNearestValueSearch) {
  std::vector<double> values;  // positive finite F16 values, ascending with the bit pattern
  for (uint16_t h = 0; h < 0x7c00; ++h) values.push_back(ref_f16(h));
  auto reference = [&](float f) -> uint16_t {
    uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    double a = std::fabs(static_cast<double>(f));
    if (a >= 65520.0) return sign | 0x7c00;
    auto it = std::lower_bound(values.begin(), values.end(), a);
    size_t hi = static_cast<size_t>(it - values.begin());
    if (hi == values.size()) return static_cast<uint16_t>(sign | (hi - 1));  // below the overflow midpoint
    if (values[hi] == a) return static_cast<uint16_t>(sign | hi);
    size_t lo = hi - 1;  // a > 0 here, and values[0] == 0
    double dlo = a - values[lo], dhi = values[hi] - a;
    size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    return static_cast<uint16_t>(sign | pick);
  };
  for (uint64_t x = 0; x < (uint64_t{1} << 32); x += 4093) {
    float f = from_bits(static_cast<uint32_t>(x));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), reference(f)) << std::hex << x;
  }
}

// ---------------------------------------------------------------- BF16

TEST(HalfBf16, DecodesEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float got = bf16_to_f32(static_cast<uint16_t>(h));
    double want = ref_bf16(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
    }
    ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
  }
}

TEST(HalfBf16, KnownValues) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_bf16(3.140625f), 0x4049);
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
  EXPECT_EQ(f32_to_bf16(FLT_MIN), 0x0080);
  EXPECT_EQ(f32_to_bf16(0x1.fep127f), 0x7f7f);  // largest finite BF16
}

TEST(HalfBf16, EveryNonNanValueRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if (bf16_is_nan(static_cast<uint16_t>(h))) continue;
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(HalfBf16, RoundsToNearestTiesToEvenAtEveryMidpoint) {
  for (uint16_t h = 0; h < 0x7f80; ++h) {
    double lo = ref_bf16(h);
    double hi = h + 1 == 0x7f80 ? std::ldexp(1.0, 128) : ref_bf16(static_cast<uint16_t>(h + 1));
    float mid = exact_float((lo + hi) / 2);
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    ASSERT_EQ(f32_to_bf16(mid), even) << std::hex << h;
    ASSERT_EQ(f32_to_bf16(std::nextafter(mid, INFINITY)), h + 1) << std::hex << h;
    ASSERT_EQ(f32_to_bf16(std::nextafter(mid, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(f32_to_bf16(-mid), even | 0x8000) << std::hex << h;
    ASSERT_EQ(f32_to_bf16(-std::nextafter(mid, 0.0f)), h | 0x8000) << std::hex << h;
  }
}

TEST(HalfBf16, OverflowGoesToInfinity) {
  EXPECT_EQ(f32_to_bf16(FLT_MAX), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-FLT_MAX), 0xff80);
  EXPECT_EQ(f32_to_bf16(0x1.ffp127f), 0x7f80);                           // tie: 0x7f7f is odd
  EXPECT_EQ(f32_to_bf16(std::nextafter(0x1.ffp127f, 0.0f)), 0x7f7f);
}

TEST(HalfBf16, NanStaysNan) {
  // Including NaNs whose upper 16 bits alone would read as infinity.
  for (uint32_t low : {0x1u, 0x40u, 0x7fffu, 0x8000u, 0xffffu}) {
    for (uint32_t top : {0x7f80u, 0xff80u, 0x7fc0u, 0x7fffu, 0xffffu}) {
      uint32_t x = (top << 16) | low;
      uint16_t h = f32_to_bf16(from_bits(x));
      EXPECT_TRUE(bf16_is_nan(h)) << std::hex << x << " -> " << h;
      EXPECT_EQ(h >> 15, x >> 31) << std::hex << x;
    }
  }
  for (uint32_t m = 1; m < 0x80; ++m) {
    uint16_t h = static_cast<uint16_t>(0x7f80 | m);
    EXPECT_TRUE(std::isnan(bf16_to_f32(h)));
    EXPECT_TRUE(bf16_is_nan(f32_to_bf16(bf16_to_f32(h)))) << std::hex << h;
  }
}

TEST(HalfBf16, SampledFloatsMatchNearestValueSearch) {
  std::vector<double> values;
  for (uint16_t h = 0; h < 0x7f80; ++h) values.push_back(ref_bf16(h));
  const double limit = (values.back() + std::ldexp(1.0, 128)) / 2;  // midpoint to "2^128"
  auto reference = [&](float f) -> uint16_t {
    uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    double a = std::fabs(static_cast<double>(f));
    if (a >= limit) return sign | 0x7f80;
    auto it = std::lower_bound(values.begin(), values.end(), a);
    size_t hi = static_cast<size_t>(it - values.begin());
    if (hi == values.size()) return static_cast<uint16_t>(sign | (hi - 1));  // below the overflow midpoint
    if (values[hi] == a) return static_cast<uint16_t>(sign | hi);
    size_t lo = hi - 1;
    double dlo = a - values[lo], dhi = values[hi] - a;
    size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    return static_cast<uint16_t>(sign | pick);
  };
  for (uint64_t x = 0; x < (uint64_t{1} << 32); x += 4093) {
    float f = from_bits(static_cast<uint32_t>(x));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), reference(f)) << std::hex << x;
  }
}

}  // namespace
}  // namespace wm
