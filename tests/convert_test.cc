// Conversion kernels, checked against references computed here in double
// from the format definitions (IEEE 754 binary16 / bfloat16 / binary32 with
// round-to-nearest-even, OCP FP8 E4M3 "fn" and E5M2, ggml Q8_0 and Q4_0).
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "dtype/convert.h"
#include "test_support.h"

namespace wm {
namespace {

// --- reference arithmetic -------------------------------------------------

struct FloatFormat {
  int mant_bits;  // stored mantissa bits
  int emin;       // exponent of the smallest normal
  int emax;       // exponent of the largest finite
};
constexpr FloatFormat kHalf{10, -14, 15};
constexpr FloatFormat kBf16{7, -126, 127};
constexpr FloatFormat kSingle{23, -126, 127};

// x rounded to the nearest value of `f` (ties to even), overflowing to
// infinity as IEEE 754 says: a value whose rounding (with unbounded
// exponent) exceeds the largest finite becomes infinite.
double round_to(double x, FloatFormat f) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  double a = std::fabs(x);
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1): unbiased exponent is e - 1
  int ue = std::max(e - 1, f.emin);
  double quantum = std::ldexp(1.0, ue - f.mant_bits);
  double r = std::nearbyint(a / quantum) * quantum;  // default mode: ties to even
  double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -f.mant_bits), f.emax);
  if (r > max_finite) r = std::numeric_limits<double>::infinity();
  return std::copysign(r, x);
}

using test::half_value;

double bf16_value(uint16_t h) {
  // bfloat16 is the upper half of a binary32.
  return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(h) << 16));
}

double e4m3_value(uint8_t v) {
  // OCP FP8 E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN, max 448.
  int sign = v >> 7, e = (v >> 3) & 0xf, m = v & 7;
  double r;
  if (e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  if (e == 0) r = std::ldexp(m, -9);   // m/8 * 2^(1-7)
  else r = std::ldexp(8 + m, e - 10);  // (1 + m/8) * 2^(e-7)
  return sign ? -r : r;
}

double e5m2_value(uint8_t v) {
  // OCP FP8 E5M2: bias 15, IEEE-like (infinities and NaNs), max 57344.
  int sign = v >> 7, e = (v >> 2) & 0x1f, m = v & 3;
  double r;
  if (e == 31) r = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (e == 0) r = std::ldexp(m, -16);  // m/4 * 2^(1-15)
  else r = std::ldexp(4 + m, e - 17);       // (1 + m/4) * 2^(e-15)
  return sign ? -r : r;
}

// Same value, or both NaN; zeros must agree in sign too.
::testing::AssertionResult same_value(double got, double want) {
  if (std::isnan(want)) {
    if (std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want NaN";
  }
  if (got == want && std::signbit(got) == std::signbit(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::hexfloat << "got " << got << ", want " << want;
}

uint64_t splitmix64(uint64_t& s) {
  uint64_t x = (s += 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <class T>
std::vector<T> run(DType from, DType to, const std::vector<std::byte>& src, uint64_t n, uint64_t* bad = nullptr) {
  std::vector<T> out(n);
  uint64_t b = convert(from, to, src.data(), reinterpret_cast<std::byte*>(out.data()), n);
  if (bad) *bad = b;
  return out;
}

float f32_from_bits(uint32_t b) { return std::bit_cast<float>(b); }

// Edge values for float sources: zeros, infinities, NaN, extremes,
// subnormals of every target, and rounding ties of every target.
std::vector<float> float_edges() {
  std::vector<float> v = {
      0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 3.0f, -2.75f,
      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
      f32_from_bits(0x7f800001u),  // signalling NaN with a payload only in low bits
      f32_from_bits(0x7fc00001u),
      FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, std::numeric_limits<float>::denorm_min(),
      f32_from_bits(0x00400000u),  // float subnormal
      // F16 range end: 65504 is the largest; 65520 is the tie to infinity.
      65504.0f, 65519.0f, 65519.996f, 65520.0f, -65520.0f, 65536.0f, 1e10f,
      // F16 subnormals and underflow: 2^-24 smallest, 2^-25 ties to zero.
      std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), -std::ldexp(1.0f, -25), std::ldexp(1.0f, -26),
      std::nextafter(std::ldexp(1.0f, -25), 1.0f), std::ldexp(3.0f, -25), std::ldexp(5.0f, -25),
      std::ldexp(1.0f, -14), std::ldexp(1.0f, -15), std::ldexp(1023.0f, -24), std::ldexp(2047.0f, -25),
      1e-8f, -1e-7f, 6e-8f,
      // F16 ties in the normal range: 1 + 2^-11 (to 1), 1 + 3*2^-11 (to 1 + 2^-9).
      1.0f + std::ldexp(1.0f, -11), 1.0f + std::ldexp(3.0f, -11), 2048.0f + 1.0f, 2048.0f + 3.0f,
      // BF16 ties: 1 + 2^-8 (to 1), 1 + 3*2^-8 (to 1 + 2^-6); carries into the exponent.
      1.0f + std::ldexp(1.0f, -8), 1.0f + std::ldexp(3.0f, -8), f32_from_bits(0x3fffffffu),
      f32_from_bits(0x7f7f8000u),  // bf16 tie at the top: rounds to infinity
      f32_from_bits(0x7f7f7fffu),  // just below: rounds to the largest bf16
      f32_from_bits(0x3f808000u), f32_from_bits(0x3f818000u), f32_from_bits(0x3f808001u),
      0.1f, -0.3f, 3.14159265f, 1234.5678f};
  uint64_t s = 42;
  for (int k = 0; k < 20000; ++k) v.push_back(f32_from_bits(static_cast<uint32_t>(splitmix64(s))));
  return v;
}

// --- the tests ------------------------------------------------------------

TEST(Convert, CanConvertTable) {
  const DType floats[] = {DType::F32, DType::F16, DType::BF16};
  for (DType a : floats)
    for (DType b : floats) EXPECT_TRUE(can_convert(a, b)) << dtype_name(a) << "->" << dtype_name(b);
  EXPECT_TRUE(can_convert(DType::F64, DType::F32));
  EXPECT_FALSE(can_convert(DType::F64, DType::F16));
  EXPECT_FALSE(can_convert(DType::F32, DType::F64));
  EXPECT_TRUE(can_convert(DType::I64, DType::I32));
  EXPECT_FALSE(can_convert(DType::I32, DType::I64));
  EXPECT_FALSE(can_convert(DType::I64, DType::F32));
  for (DType f8 : {DType::F8_E4M3, DType::F8_E5M2}) {
    EXPECT_TRUE(can_convert(f8, DType::F16));
    EXPECT_TRUE(can_convert(f8, DType::F32));
    EXPECT_FALSE(can_convert(f8, DType::BF16));
    EXPECT_FALSE(can_convert(DType::F16, f8));
  }
  // Every block type with a dequantiser (dtype/block_codec.h) converts to the float types.
  for (DType q : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::IQ4_XS}) {
    EXPECT_TRUE(can_convert(q, DType::F16));
    EXPECT_TRUE(can_convert(q, DType::F32));
    EXPECT_TRUE(can_convert(q, DType::BF16));
    EXPECT_FALSE(can_convert(q, DType::F64));
    EXPECT_FALSE(can_convert(DType::F32, q));
  }
  EXPECT_FALSE(can_convert(DType::IQ2_XXS, DType::F32));  // no codec
  EXPECT_FALSE(can_convert(DType::I32, DType::F32));
  EXPECT_FALSE(can_convert(DType::F32, DType::I32));
  EXPECT_TRUE(can_convert(DType::Q4_K, DType::Q4_K));  // identity is always fine
  EXPECT_TRUE(can_convert(DType::I8, DType::I8));
}

TEST(Convert, F32ToF16RoundsToNearestEven) {
  std::vector<float> in = float_edges();
  auto out = run<uint16_t>(DType::F32, DType::F16, as_bytes(in), in.size());
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_TRUE(same_value(half_value(out[k]), round_to(in[k], kHalf))) << std::hexfloat << in[k] << " #" << k;
  // A few spelled out, so the reference itself is pinned.
  auto one = [](float f) { return run<uint16_t>(DType::F32, DType::F16, as_bytes(std::vector<float>{f}), 1)[0]; };
  EXPECT_EQ(one(65504.0f), 0x7bffu);
  EXPECT_EQ(one(65520.0f), 0x7c00u);
  EXPECT_EQ(one(65519.0f), 0x7bffu);
  EXPECT_EQ(one(-std::numeric_limits<float>::infinity()), 0xfc00u);
  EXPECT_EQ(one(std::ldexp(1.0f, -24)), 0x0001u);
  EXPECT_EQ(one(std::ldexp(1.0f, -25)), 0x0000u);
  EXPECT_EQ(one(-std::ldexp(1.0f, -25)), 0x8000u);
  EXPECT_EQ(one(std::ldexp(3.0f, -25)), 0x0002u);
  EXPECT_EQ(one(std::ldexp(1.0f, -14)), 0x0400u);
  EXPECT_EQ(one(1.0f + std::ldexp(1.0f, -11)), 0x3c00u);
  EXPECT_EQ(one(1.0f + std::ldexp(3.0f, -11)), 0x3c02u);
  EXPECT_EQ(one(-0.0f), 0x8000u);
  uint16_t nan = one(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00u, 0x7c00u);
  EXPECT_NE(nan & 0x03ffu, 0u);
  uint16_t low_payload_nan = one(f32_from_bits(0x7f800001u));  // must not turn into infinity
  EXPECT_NE(low_payload_nan & 0x03ffu, 0u);
}

TEST(Convert, F32ToBf16RoundsToNearestEven) {
  std::vector<float> in = float_edges();
  auto out = run<uint16_t>(DType::F32, DType::BF16, as_bytes(in), in.size());
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_TRUE(same_value(bf16_value(out[k]), round_to(in[k], kBf16))) << std::hexfloat << in[k] << " #" << k;
  auto one = [](float f) { return run<uint16_t>(DType::F32, DType::BF16, as_bytes(std::vector<float>{f}), 1)[0]; };
  EXPECT_EQ(one(1.0f), 0x3f80u);
  EXPECT_EQ(one(f32_from_bits(0x3f808000u)), 0x3f80u);  // tie, even stays
  EXPECT_EQ(one(f32_from_bits(0x3f818000u)), 0x3f82u);  // tie, odd rounds up
  EXPECT_EQ(one(f32_from_bits(0x3f808001u)), 0x3f81u);  // above the tie
  EXPECT_EQ(one(f32_from_bits(0x7f7f8000u)), 0x7f80u);  // to infinity
  uint16_t nan = one(f32_from_bits(0x7f800001u));       // payload only in the dropped bits
  EXPECT_TRUE(std::isnan(bf16_value(nan)));
}

TEST(Convert, F16ToF32IsExactForEveryCode) {
  std::vector<uint16_t> in(65536);
  for (uint32_t k = 0; k < 65536; ++k) in[k] = static_cast<uint16_t>(k);
  auto out = run<float>(DType::F16, DType::F32, as_bytes(in), in.size());
  for (uint32_t k = 0; k < 65536; ++k) ASSERT_TRUE(same_value(out[k], half_value(static_cast<uint16_t>(k)))) << k;
}

TEST(Convert, Bf16ToF32IsExactForEveryCode) {
  std::vector<uint16_t> in(65536);
  for (uint32_t k = 0; k < 65536; ++k) in[k] = static_cast<uint16_t>(k);
  auto out = run<uint32_t>(DType::BF16, DType::F32, as_bytes(in), in.size());
  for (uint32_t k = 0; k < 65536; ++k) {
    // Bit-exact: the code becomes the top half of the float, NaN payloads too.
    ASSERT_EQ(out[k], k << 16) << k;
  }
}

TEST(Convert, F16ToBf16ForEveryCode) {
  std::vector<uint16_t> in(65536);
  for (uint32_t k = 0; k < 65536; ++k) in[k] = static_cast<uint16_t>(k);
  auto out = run<uint16_t>(DType::F16, DType::BF16, as_bytes(in), in.size());
  for (uint32_t k = 0; k < 65536; ++k)
    ASSERT_TRUE(same_value(bf16_value(out[k]), round_to(half_value(static_cast<uint16_t>(k)), kBf16))) << k;
}

TEST(Convert, Bf16ToF16ForEveryCode) {
  std::vector<uint16_t> in(65536);
  for (uint32_t k = 0; k < 65536; ++k) in[k] = static_cast<uint16_t>(k);
  auto out = run<uint16_t>(DType::BF16, DType::F16, as_bytes(in), in.size());
  for (uint32_t k = 0; k < 65536; ++k)
    ASSERT_TRUE(same_value(half_value(out[k]), round_to(bf16_value(static_cast<uint16_t>(k)), kHalf))) << k;
}

TEST(Convert, SameDtypeIsAByteCopy) {
  std::vector<std::byte> src(68);
  for (size_t k = 0; k < src.size(); ++k) src[k] = static_cast<std::byte>(k * 7 + 1);
  std::vector<std::byte> dst(68);
  EXPECT_EQ(convert(DType::Q8_0, DType::Q8_0, src.data(), dst.data(), 64), 0u);
  EXPECT_EQ(dst, src);
  std::vector<std::byte> dst2(68);
  EXPECT_EQ(convert(DType::F32, DType::F32, src.data(), dst2.data(), 17), 0u);
  EXPECT_EQ(dst2, src);
}

TEST(Convert, F64ToF32) {
  std::vector<double> in = {0.0, -0.0, 1.0, -1.5, 0.1, 1e300, -1e300, 1e-300, -1e-300,
                            std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(),
                            std::bit_cast<double>(0x7ff0000000000001ull),  // NaN, payload in low bits only
                            static_cast<double>(FLT_MAX),
                            // Largest float plus half an ulp: tie, rounds to infinity (FLT_MAX is odd).
                            static_cast<double>(FLT_MAX) + std::ldexp(1.0, 127 - 24),
                            static_cast<double>(FLT_MAX) + std::ldexp(1.0, 127 - 25),
                            1.0 + std::ldexp(1.0, -24), 1.0 + std::ldexp(3.0, -24), 1.0 + std::ldexp(1.0, -30),
                            std::ldexp(1.0, -149), std::ldexp(1.0, -150), std::ldexp(1.5, -150), std::ldexp(3.0, -150),
                            std::ldexp(1.0, -126) - std::ldexp(1.0, -151), 16777217.0, 16777219.0};
  uint64_t s = 7;
  for (int k = 0; k < 20000; ++k) {
    double d = std::bit_cast<double>(splitmix64(s));
    // Mostly values near the float range so that rounding (not just overflow) is exercised.
    if (k % 2 == 0 && std::isfinite(d)) {
      int e;
      double m = std::frexp(d, &e);
      d = std::ldexp(m, static_cast<int>(splitmix64(s) % 300) - 160);
    }
    in.push_back(d);
  }
  auto out = run<float>(DType::F64, DType::F32, as_bytes(in), in.size());
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_TRUE(same_value(out[k], round_to(in[k], kSingle))) << std::hexfloat << in[k] << " #" << k;
  EXPECT_TRUE(std::isinf(out[14]));
  EXPECT_EQ(out[15], FLT_MAX);
  EXPECT_EQ(out[16], 1.0f);
  EXPECT_EQ(out[17], 1.0f + std::ldexp(1.0f, -22));
}

TEST(Convert, F8E4M3EveryCode) {
  std::vector<uint8_t> in(256);
  for (int k = 0; k < 256; ++k) in[k] = static_cast<uint8_t>(k);
  auto f32 = run<float>(DType::F8_E4M3, DType::F32, as_bytes(in), 256);
  auto f16 = run<uint16_t>(DType::F8_E4M3, DType::F16, as_bytes(in), 256);
  for (int k = 0; k < 256; ++k) {
    double want = e4m3_value(static_cast<uint8_t>(k));
    EXPECT_TRUE(same_value(f32[k], want)) << k;
    EXPECT_TRUE(same_value(half_value(f16[k]), want)) << k;  // every E4M3 value fits F16 exactly
    EXPECT_TRUE(same_value(f8_e4m3_to_f32(static_cast<uint8_t>(k)), want)) << k;
  }
  EXPECT_EQ(f32[0x7e], 448.0f);    // largest
  EXPECT_EQ(f32[0xfe], -448.0f);
  EXPECT_EQ(f32[0x38], 1.0f);
  EXPECT_EQ(f32[0x01], std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(f32[0x07], std::ldexp(7.0f, -9));  // largest subnormal
  EXPECT_EQ(f32[0x08], std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(f32[0x78], 256.0f);                // no infinity: exponent 15 is a normal binade
  EXPECT_TRUE(std::isnan(f32[0x7f]));
  EXPECT_TRUE(std::isnan(f32[0xff]));
  EXPECT_TRUE(std::signbit(f32[0x80]));
  EXPECT_EQ(f16[0x7e], 0x5f00u);  // 448 in F16
}

TEST(Convert, F8E5M2EveryCode) {
  std::vector<uint8_t> in(256);
  for (int k = 0; k < 256; ++k) in[k] = static_cast<uint8_t>(k);
  auto f32 = run<float>(DType::F8_E5M2, DType::F32, as_bytes(in), 256);
  auto f16 = run<uint16_t>(DType::F8_E5M2, DType::F16, as_bytes(in), 256);
  for (int k = 0; k < 256; ++k) {
    double want = e5m2_value(static_cast<uint8_t>(k));
    EXPECT_TRUE(same_value(f32[k], want)) << k;
    EXPECT_TRUE(same_value(half_value(f16[k]), want)) << k;
    EXPECT_TRUE(same_value(f8_e5m2_to_f32(static_cast<uint8_t>(k)), want)) << k;
  }
  EXPECT_EQ(f32[0x7b], 57344.0f);
  EXPECT_EQ(f32[0x3c], 1.0f);
  EXPECT_EQ(f32[0x01], std::ldexp(1.0f, -16));
  EXPECT_TRUE(std::isinf(f32[0x7c]) && f32[0x7c] > 0);
  EXPECT_TRUE(std::isinf(f32[0xfc]) && f32[0xfc] < 0);
  EXPECT_TRUE(std::isnan(f32[0x7d]));
  EXPECT_EQ(f16[0x7b], 0x7b00u);
}

// A Q8_0 block: F16 scale d, then 32 int8 quants; value j = d * q[j].
std::vector<std::byte> q8_block(uint16_t d_bits, const int8_t (&q)[32]) {
  std::vector<std::byte> b(34);
  std::memcpy(b.data(), &d_bits, 2);
  std::memcpy(b.data() + 2, q, 32);
  return b;
}

TEST(Convert, Q8_0Dequantisation) {
  // Scales: 1, -0.5, a subnormal F16, the largest F16 (products overflow F16), 0.
  const uint16_t scales[] = {0x3c00, 0xb800, 0x0003, 0x7bff, 0x0000, 0x2e66 /* ~0.1 */};
  std::vector<std::byte> src;
  std::vector<double> want;
  for (size_t b = 0; b < std::size(scales); ++b) {
    int8_t q[32];
    for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(j * 9 - 128 + static_cast<int>(b));  // spans -128..
    q[31] = 127;
    q[30] = -128;
    q[29] = 0;
    auto blk = q8_block(scales[b], q);
    src.insert(src.end(), blk.begin(), blk.end());
    for (int j = 0; j < 32; ++j) want.push_back(half_value(scales[b]) * q[j]);  // exact in double and float
  }
  const uint64_t n = want.size();
  auto f32 = run<float>(DType::Q8_0, DType::F32, src, n);
  auto f16 = run<uint16_t>(DType::Q8_0, DType::F16, src, n);
  for (uint64_t k = 0; k < n; ++k) {
    EXPECT_TRUE(same_value(f32[k], want[k])) << k;
    EXPECT_TRUE(same_value(half_value(f16[k]), round_to(want[k], kHalf))) << k;
  }
  // Spelled out: block 0 has d = 1, so values are the quants themselves.
  EXPECT_EQ(f32[31], 127.0f);
  EXPECT_EQ(f32[30], -128.0f);
  // Block 3 (d = 65504) times 127 does not fit F16: infinity.
  EXPECT_EQ(f16[3 * 32 + 31], 0x7c00u);
  EXPECT_EQ(f16[3 * 32 + 30], 0xfc00u);
}

// A Q4_0 block: F16 scale d, then 16 bytes; byte j holds element j in its low
// nibble and element j + 16 in its high nibble, each stored as q + 8.
TEST(Convert, Q4_0Dequantisation) {
  const uint16_t scales[] = {0x3c00, 0xc000 /* -2 */, 0x0001, 0x3555 /* ~1/3 */};
  std::vector<std::byte> src;
  std::vector<double> want;
  for (size_t b = 0; b < std::size(scales); ++b) {
    uint8_t qs[16];
    int elem[32];
    for (int j = 0; j < 16; ++j) {
      int lo = (j + static_cast<int>(b)) & 15, hi = 15 - j;
      qs[j] = static_cast<uint8_t>(lo | (hi << 4));
      elem[j] = lo - 8;
      elem[j + 16] = hi - 8;
    }
    std::byte blk[18];
    std::memcpy(blk, &scales[b], 2);
    std::memcpy(blk + 2, qs, 16);
    src.insert(src.end(), blk, blk + 18);
    for (int j = 0; j < 32; ++j) want.push_back(half_value(scales[b]) * elem[j]);
  }
  const uint64_t n = want.size();
  auto f32 = run<float>(DType::Q4_0, DType::F32, src, n);
  auto f16 = run<uint16_t>(DType::Q4_0, DType::F16, src, n);
  for (uint64_t k = 0; k < n; ++k) {
    EXPECT_TRUE(same_value(f32[k], want[k])) << k;
    EXPECT_TRUE(same_value(half_value(f16[k]), round_to(want[k], kHalf))) << k;
  }
  // Block 0, d = 1: element 0 is nibble 0 - 8, element 16 is nibble 15 - 8.
  EXPECT_EQ(f32[0], -8.0f);
  EXPECT_EQ(f32[16], 7.0f);
  EXPECT_EQ(f32[15], 7.0f);
  EXPECT_EQ(f32[31], -8.0f);
  // Block 1, d = -2.
  EXPECT_EQ(f32[32], (1 - 8) * -2.0f);
}

TEST(Convert, I64ToI32CountsAndClampsOutOfRange) {
  std::vector<int64_t> in = {0,
                             -1,
                             123456789,
                             INT32_MAX,
                             INT32_MIN,
                             static_cast<int64_t>(INT32_MAX) + 1,
                             static_cast<int64_t>(INT32_MIN) - 1,
                             INT64_MAX,
                             INT64_MIN,
                             -42};
  uint64_t bad = 0;
  auto out = run<int32_t>(DType::I64, DType::I32, as_bytes(in), in.size(), &bad);
  EXPECT_EQ(bad, 4u);
  std::vector<int32_t> want = {0, -1, 123456789, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, -42};
  EXPECT_EQ(out, want);

  std::vector<int64_t> fine = {1, 2, -3};
  uint64_t none = 99;
  auto ok = run<int32_t>(DType::I64, DType::I32, as_bytes(fine), fine.size(), &none);
  EXPECT_EQ(none, 0u);
  EXPECT_EQ(ok, (std::vector<int32_t>{1, 2, -3}));
}

TEST(Convert, FloatConversionsReportNothingOutOfRange) {
  std::vector<float> in = {1e30f, -1e30f, std::numeric_limits<float>::infinity()};
  uint64_t bad = 99;
  run<uint16_t>(DType::F32, DType::F16, as_bytes(in), in.size(), &bad);
  EXPECT_EQ(bad, 0u);
}

TEST(Convert, ChunkedConversionEqualsWhole) {
  // The loader converts chunk by chunk: element-wise kernels must not care.
  std::vector<float> in;
  uint64_t s = 3;
  for (int k = 0; k < 1000; ++k) in.push_back(static_cast<float>(static_cast<int64_t>(splitmix64(s) % 20000) - 10000) / 7.0f);
  auto src = as_bytes(in);
  auto whole = run<uint16_t>(DType::F32, DType::F16, src, in.size());
  std::vector<uint16_t> parts(in.size());
  convert(DType::F32, DType::F16, src.data(), reinterpret_cast<std::byte*>(parts.data()), 333);
  convert(DType::F32, DType::F16, src.data() + 333 * 4, reinterpret_cast<std::byte*>(parts.data() + 333), 667);
  EXPECT_EQ(parts, whole);
}

TEST(Convert, ElementsIn) {
  EXPECT_EQ(elements_in(DType::F32, 40), 10u);
  EXPECT_EQ(elements_in(DType::F16, 40), 20u);
  EXPECT_EQ(elements_in(DType::Q8_0, 68), 64u);
  EXPECT_EQ(elements_in(DType::Q4_0, 36), 64u);
  EXPECT_EQ(elements_in(DType::U8, 0), 0u);
}

}  // namespace
}  // namespace wm
