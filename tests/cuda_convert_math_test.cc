// The GPU conversion kernels' arithmetic (src/device/cuda/convert_math.h),
// compiled here as host code, against the CPU conversion (wm::convert),
// bit for bit: every F16, BF16 and F8 pattern; F32 rounding boundaries,
// edge cases and random patterns; random quantised blocks with finite and
// non-finite scales; both the element-aligned (wide) and the bytewise
// loads and stores. No GPU needed: the kernels (convert_kernels.cu) only
// call convert_element<From, To, Aligned> per element, through the same
// dispatch_conversion this test enumerates the pairs with.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "device/cuda/convert_math.h"
#include "dtype/block_codec.h"
#include "dtype/convert.h"
#include "dtype/dtype.h"

namespace wm {
namespace {

using cuda::gpu_block_bytes;
using cuda::gpu_block_elems;
using cuda::gpu_convert_supported;

constexpr DType kFloatTargets[] = {DType::F32, DType::F16, DType::BF16};
constexpr DType kQuantTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                 DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

uint64_t bytes_of(DType t, uint64_t n) { return n / dtype_info(t).block_elems * dtype_info(t).block_bytes; }

// Bytes at a chosen alignment, in storage whose objects have the type the
// aligned (wide) loads and stores read them as: float for F32, uint16_t
// for F16/BF16, bytes otherwise; `misaligned` puts them one byte past an
// aligned address, which only the bytewise path may take.
class Buffer {
 public:
  Buffer(DType t, uint64_t bytes, bool misaligned) : misaligned_(misaligned) {
    const uint32_t size = gpu_block_elems(t) == 1 ? gpu_block_bytes(t) : 1;
    if (!misaligned && size == 4) f32_.resize(bytes / 4);
    else if (!misaligned && size == 2) u16_.resize(bytes / 2);
    else u8_.resize(bytes + 1);
  }
  uint8_t* data() {
    if (!f32_.empty()) return reinterpret_cast<uint8_t*>(f32_.data());
    if (!u16_.empty()) return reinterpret_cast<uint8_t*>(u16_.data());
    return u8_.data() + (misaligned_ ? 1 : 0);
  }

 private:
  bool misaligned_;
  std::vector<float> f32_;
  std::vector<uint16_t> u16_;
  std::vector<uint8_t> u8_;
};

// convert_math.h's conversion of n elements, as the kernels do it (one
// convert_element per element), or false if it has no such pair.
template <bool Aligned>
bool gpu_math_convert(DType from, DType to, const uint8_t* src, uint8_t* dst, uint64_t n) {
  return cuda::dispatch_conversion(from, to, [&](auto from_c, auto to_c) {
    constexpr DType kFrom = decltype(from_c)::value, kTo = decltype(to_c)::value;
    for (uint64_t i = 0; i < n; ++i) cuda::convert_element<kFrom, kTo, Aligned>(src, dst, i);
  });
}

// The one difference from the CPU allowed (convert_math.h's header): for
// Q4_1/Q5_1, q * d + m with both the product and m NaN may give m's NaN on
// the CPU, where the compiler emitted m + q * d. True when `cpu` (one value
// of `to`) is m's NaN, quieted, in `to`.
bool cpu_chose_m_nan(DType from, DType to, const uint8_t* block, const uint8_t* cpu) {
  if (from != DType::Q4_1 && from != DType::Q5_1) return false;
  const uint32_t m = cuda::bits_of(cuda::f16_at(block + 2));
  if (!cuda::is_nan_bits(m)) return false;
  const float quiet_m = cuda::float_of(m | 0x00400000u);
  uint32_t want = 0, got = 0;
  switch (to) {
    case DType::F32: want = cuda::bits_of(quiet_m); break;
    case DType::F16: want = cuda::f32_to_f16(quiet_m); break;
    default: want = cuda::f32_to_bf16(quiet_m); break;
  }
  std::memcpy(&got, cpu, dtype_info(to).block_bytes);  // little-endian host
  return got == want;
}

std::string hex_bytes(const uint8_t* p, uint32_t size) {
  std::string s;
  static const char* digits = "0123456789abcdef";
  for (uint32_t k = size; k-- > 0;) {  // little-endian value, most significant first
    s += digits[p[k] >> 4];
    s += digits[p[k] & 15];
  }
  return s;
}

// Converts `src` (n elements of `from`) with wm::convert and with
// convert_math.h, aligned and misaligned, and compares the bytes.
void expect_same_conversion(DType from, DType to, const std::vector<uint8_t>& src, uint64_t n) {
  SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
  ASSERT_TRUE(can_convert(from, to));
  ASSERT_TRUE(gpu_convert_supported(from, to));
  ASSERT_EQ(src.size(), bytes_of(from, n));
  const uint64_t out_bytes = bytes_of(to, n);
  std::vector<uint8_t> want(out_bytes);
  ASSERT_EQ(convert(from, to, reinterpret_cast<const std::byte*>(src.data()), reinterpret_cast<std::byte*>(want.data()),
                    n),
            0u);
  for (const bool misaligned : {false, true}) {
    SCOPED_TRACE(misaligned ? "bytewise loads and stores" : "element-aligned loads and stores");
    Buffer in(from, src.size(), misaligned), out(to, out_bytes, misaligned);
    std::memcpy(in.data(), src.data(), src.size());
    std::memset(out.data(), 0xa5, out_bytes);
    const bool done = misaligned ? gpu_math_convert<false>(from, to, in.data(), out.data(), n)
                                 : gpu_math_convert<true>(from, to, in.data(), out.data(), n);
    ASSERT_TRUE(done);
    if (std::memcmp(out.data(), want.data(), out_bytes) == 0) continue;
    const uint32_t in_elems = dtype_info(from).block_elems, in_size = dtype_info(from).block_bytes;
    const uint32_t out_size = dtype_info(to).block_bytes;
    uint64_t m_nans = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* got = out.data() + i * out_size;
      if (std::memcmp(got, want.data() + i * out_size, out_size) == 0) continue;
      const uint8_t* block = src.data() + i / in_elems * in_size;
      if (cpu_chose_m_nan(from, to, block, want.data() + i * out_size)) {
        ++m_nans;
        continue;
      }
      std::string source = in_elems == 1 ? "source " + hex_bytes(block, in_size)
                                         : "element " + std::to_string(i % in_elems) + " of block " +
                                               hex_bytes(block, in_size > 8 ? 8 : in_size) + "...";
      FAIL() << "element " << i << " (" << source << "): CPU " << hex_bytes(want.data() + i * out_size, out_size)
             << ", GPU math " << hex_bytes(got, out_size);
    }
    if (m_nans != 0)
      std::printf("note: %s -> %s: in %llu values of q * d + m with both NaN, this CPU build gives m's NaN and the "
                  "GPU the product's (convert_math.h: the compiler's operand order)\n",
                  dtype_name(from), dtype_name(to), static_cast<unsigned long long>(m_nans));
  }
}

std::vector<uint8_t> le_bytes(const std::vector<uint32_t>& values, uint32_t size) {
  std::vector<uint8_t> out(values.size() * size);
  for (size_t i = 0; i < values.size(); ++i)
    for (uint32_t k = 0; k < size; ++k) out[i * size + k] = static_cast<uint8_t>(values[i] >> (8 * k));
  return out;
}

// ---------------------------------------------------------------- the type table and the pairs

TEST(CudaConvertMath, BlockSizesMatchTheTypeTable) {
  for (int k = 0; k < static_cast<int>(DType::kCount); ++k) {
    const auto t = static_cast<DType>(k);
    if (gpu_block_elems(t) == 0) {
      EXPECT_EQ(gpu_block_bytes(t), 0u) << dtype_name(t);
      continue;
    }
    EXPECT_EQ(gpu_block_elems(t), dtype_info(t).block_elems) << dtype_name(t);
    EXPECT_EQ(gpu_block_bytes(t), dtype_info(t).block_bytes) << dtype_name(t);
  }
}

TEST(CudaConvertMath, EveryGpuPairIsACpuPairAndIsDispatched) {
  int pairs = 0;
  for (int a = 0; a < static_cast<int>(DType::kCount); ++a) {
    for (int b = 0; b < static_cast<int>(DType::kCount); ++b) {
      const auto from = static_cast<DType>(a), to = static_cast<DType>(b);
      const bool gpu = gpu_convert_supported(from, to);
      if (gpu) {
        ++pairs;
        EXPECT_TRUE(can_convert(from, to)) << dtype_name(from) << " -> " << dtype_name(to);
      }
      // Every supported pair but the identity (a byte copy) has a kernel, and only those.
      bool called = false;
      const bool dispatched = cuda::dispatch_conversion(from, to, [&](auto, auto) { called = true; });
      EXPECT_EQ(dispatched, gpu && from != to) << dtype_name(from) << " -> " << dtype_name(to);
      EXPECT_EQ(called, dispatched);
    }
  }
  // 13 types to themselves; F32/F16/BF16 among themselves (6); F8_E4M3 and
  // F8_E5M2 to F32/F16 (4); the eight quantised types to F32/F16/BF16 (24).
  EXPECT_EQ(pairs, 13 + 6 + 4 + 24);
}

// The NaN model convert_math.h assumes of the host's float unit (see its
// header comment). If this fails on some architecture, default_nan_bits()
// and host_nan_rules() need that architecture's rules.
TEST(CudaConvertMath, HostFloatUnitFollowsTheNanModel) {
  volatile float inf = cuda::float_of(0x7f800000u), zero = 0.0f, two = 2.0f;
  volatile float snan = cuda::float_of(0x7f800123u), qnan = cuda::float_of(0xffc00456u);
  EXPECT_EQ(cuda::bits_of(inf * zero), cuda::default_nan_bits());
  EXPECT_EQ(cuda::bits_of(inf - inf), cuda::default_nan_bits());
  EXPECT_EQ(cuda::bits_of(snan * two), 0x7fc00123u);  // quieted, payload kept
  EXPECT_EQ(cuda::bits_of(two * snan), 0x7fc00123u);
  EXPECT_EQ(cuda::bits_of(qnan - two), 0xffc00456u);
  // Two NaNs: x86 returns the first, Arm a signalling one first.
  volatile float qnan2 = cuda::float_of(0x7fc00789u);
  EXPECT_EQ(cuda::bits_of(qnan + qnan2), 0xffc00456u);
  EXPECT_EQ(cuda::bits_of(qnan + snan), WM_HOST_NAN_RULES_ARM ? 0x7fc00123u : 0xffc00456u);
  EXPECT_EQ(cuda::bits_of(cuda::add(qnan, qnan2)), 0xffc00456u);
  EXPECT_EQ(cuda::bits_of(cuda::add(qnan, snan)), WM_HOST_NAN_RULES_ARM ? 0x7fc00123u : 0xffc00456u);
  // The model's own results for the same operations.
  EXPECT_EQ(cuda::bits_of(cuda::mul(inf, zero)), cuda::default_nan_bits());
  EXPECT_EQ(cuda::bits_of(cuda::sub(inf, inf)), cuda::default_nan_bits());
  EXPECT_EQ(cuda::bits_of(cuda::mul(snan, two)), 0x7fc00123u);
  EXPECT_EQ(cuda::bits_of(cuda::mul(two, snan)), 0x7fc00123u);
  EXPECT_EQ(cuda::bits_of(cuda::sub(qnan, two)), 0xffc00456u);
  EXPECT_EQ(cuda::bits_of(cuda::sub(qnan, cuda::float_of(0x7fc00789u))), 0xffc00456u);  // the first NaN
}

// ---------------------------------------------------------------- F16, BF16, F8: every pattern

// Every bit pattern of a `width`-byte type, little-endian.
std::vector<uint8_t> every_pattern(size_t width) {
  std::vector<uint32_t> all(size_t{1} << (8 * width));
  for (uint32_t v = 0; v < all.size(); ++v) all[v] = v;
  return le_bytes(all, width);
}

TEST(CudaConvertMath, EveryF16Pattern) {
  const std::vector<uint8_t> src = every_pattern(2);
  expect_same_conversion(DType::F16, DType::F32, src, 65536);
  expect_same_conversion(DType::F16, DType::BF16, src, 65536);
}

TEST(CudaConvertMath, EveryBf16Pattern) {
  const std::vector<uint8_t> src = every_pattern(2);
  expect_same_conversion(DType::BF16, DType::F32, src, 65536);
  expect_same_conversion(DType::BF16, DType::F16, src, 65536);
}

TEST(CudaConvertMath, EveryF8Pattern) {
  const std::vector<uint8_t> src = every_pattern(1);
  for (DType from : {DType::F8_E4M3, DType::F8_E5M2})
    for (DType to : {DType::F32, DType::F16}) expect_same_conversion(from, to, src, 256);
  // The scalar decoders by themselves too.
  for (uint32_t v = 0; v < 256; ++v) {
    const auto b = static_cast<uint8_t>(v);
    EXPECT_EQ(cuda::bits_of(cuda::f8_e4m3_to_f32(b)), cuda::bits_of(f8_e4m3_to_f32(b))) << v;
    EXPECT_EQ(cuda::bits_of(cuda::f8_e5m2_to_f32(b)), cuda::bits_of(f8_e5m2_to_f32(b))) << v;
  }
}

// ---------------------------------------------------------------- F32 sources

void expect_f32_to_halves(const std::vector<uint32_t>& bits) {
  const std::vector<uint8_t> src = le_bytes(bits, 4);
  expect_same_conversion(DType::F32, DType::F16, src, bits.size());
  expect_same_conversion(DType::F32, DType::BF16, src, bits.size());
}

TEST(CudaConvertMath, F32EdgeCases) {
  std::vector<uint32_t> bits = {
      0x00000000, 0x00000001, 0x007fffff, 0x00800000,  // zero, F32 subnormals, smallest normal
      0x7f7fffff, 0x7f800000,                          // largest finite, infinity
      0x7f800001, 0x7fbfffff, 0x7fc00000, 0x7fc00001,  // NaNs: signalling, quiet, payloads
      0x7fffffff, 0x7f80ffff, 0x7f810000, 0x7fff0000, 0x7fc0ffff, 0x7f802000,
      0x3f800000, 0x3f800001, 0x3f7fffff,              // 1 and its neighbours
      0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001,  // 65504, below / at / above the F16 overflow tie
      0x477fffff, 0x47800000,                          // 65535.99..., 65536
      0x38800000, 0x387fffff, 0x387ff000, 0x387fefff,  // F16 smallest normal, largest subnormal ties
      0x33000000, 0x33000001, 0x32ffffff,              // half the smallest F16 subnormal, and neighbours
      0x33800000, 0x33c00000, 0x33a00000, 0x33e00000,  // 2^-24, 1.5 * 2^-24 (tie), 1.25, 1.75
      0x7f7f8000, 0x7f7f7fff, 0x7f7effff, 0x7f7e8000,  // BF16 ties at the top (to infinity, to even)
      0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001,  // BF16 ties around 1
      0x00008000, 0x00018000, 0x0000ffff,              // BF16 ties among F32 subnormals
      0x3f801000, 0x3f803000, 0x3f800fff, 0x3f801001,  // F16 ties around 1
  };
  const size_t base = bits.size();
  for (size_t i = 0; i < base; ++i) bits.push_back(bits[i] | 0x80000000u);  // and negated
  expect_f32_to_halves(bits);
}

// Every F32 with one of the F16 rounding-boundary tails below the F16
// precision (13 bits: exact, just above/below zero, the tie, just above/below
// the tie, all ones), for each of the 2^19 sign/exponent/top-mantissa heads:
// every F16 rounding decision, normal and subnormal, and every overflow.
TEST(CudaConvertMath, F32ToHalvesAtEveryF16Boundary) {
  std::vector<uint32_t> bits;
  bits.reserve((1u << 19) * 6);
  for (uint32_t head = 0; head < (1u << 19); ++head)
    for (uint32_t tail : {0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x1fffu}) bits.push_back(head << 13 | tail);
  expect_f32_to_halves(bits);
}

// The same for BF16 (16-bit tails): every BF16 rounding decision.
TEST(CudaConvertMath, F32ToHalvesAtEveryBf16Boundary) {
  std::vector<uint32_t> bits;
  bits.reserve(65536 * 6);
  for (uint32_t head = 0; head < 65536; ++head)
    for (uint32_t tail : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) bits.push_back(head << 16 | tail);
  expect_f32_to_halves(bits);
}

// Every exponent (both signs) with random mantissas, then any patterns.
TEST(CudaConvertMath, F32RandomPatterns) {
  std::mt19937_64 rng(20240611);
  std::vector<uint32_t> bits;
  for (uint32_t sign_exp = 0; sign_exp < 512; ++sign_exp)
    for (int k = 0; k < 512; ++k) bits.push_back(sign_exp << 23 | static_cast<uint32_t>(rng() & 0x7fffffu));
  for (int k = 0; k < (1 << 20); ++k) bits.push_back(static_cast<uint32_t>(rng()));
  expect_f32_to_halves(bits);
}

// ---------------------------------------------------------------- quantised blocks

// Byte offsets of a block's f16 scale fields (d, then m/dmin where there is one).
std::vector<uint32_t> scale_fields(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q6_K: return {208};
    default: return {0};
  }
}

uint16_t random_finite_f16(std::mt19937_64& rng) {
  for (;;) {
    const auto h = static_cast<uint16_t>(rng());
    if ((h & 0x7c00) != 0x7c00) return h;
  }
}

// Non-finite F16 scales: infinities, quiet and signalling NaNs with payloads, both signs.
constexpr uint16_t kNonFiniteF16[] = {0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0xfd55, 0x7fff, 0x7e3c, 0xffff, 0x7d00};

void put16(std::vector<uint8_t>& v, size_t at, uint16_t h) {
  v[at] = static_cast<uint8_t>(h);
  v[at + 1] = static_cast<uint8_t>(h >> 8);
}

// n random blocks of t; its scale fields random finite F16, but for
// `nonfinite` of them (a chance per field, out of 4) one of kNonFiniteF16.
std::vector<uint8_t> random_blocks(DType t, uint64_t nblocks, std::mt19937_64& rng, int nonfinite_in_4) {
  const uint32_t size = dtype_info(t).block_bytes;
  std::vector<uint8_t> v(nblocks * size);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  for (uint64_t b = 0; b < nblocks; ++b) {
    for (uint32_t at : scale_fields(t)) {
      const bool special = static_cast<int>(rng() % 4) < nonfinite_in_4;
      put16(v, b * size + at,
            special ? kNonFiniteF16[rng() % std::size(kNonFiniteF16)] : random_finite_f16(rng));
    }
  }
  return v;
}

void expect_same_dequantisation(DType t, const std::vector<uint8_t>& blocks) {
  const uint64_t n = blocks.size() / dtype_info(t).block_bytes * dtype_info(t).block_elems;
  for (DType to : kFloatTargets) expect_same_conversion(t, to, blocks, n);
}

class CudaConvertMathQuant : public testing::TestWithParam<DType> {};

TEST_P(CudaConvertMathQuant, RandomBlocksWithFiniteScales) {
  std::mt19937_64 rng(1000 + static_cast<int>(GetParam()));
  const uint64_t nblocks = gpu_block_elems(GetParam()) == 32 ? 16384 : 2048;
  expect_same_dequantisation(GetParam(), random_blocks(GetParam(), nblocks, rng, 0));
}

// Infinite and NaN scales (alone and together, with zero and non-zero
// levels and sub-block scales): inf * 0 gives the host's default NaN, a NaN
// scale its payload, quieted; the CPU's bits all the same.
TEST_P(CudaConvertMathQuant, RandomBlocksWithNonFiniteScales) {
  std::mt19937_64 rng(2000 + static_cast<int>(GetParam()));
  const uint64_t nblocks = gpu_block_elems(GetParam()) == 32 ? 8192 : 1024;
  expect_same_dequantisation(GetParam(), random_blocks(GetParam(), nblocks, rng, 2));
  expect_same_dequantisation(GetParam(), random_blocks(GetParam(), nblocks, rng, 4));  // every scale
}

// Blocks with all-zero and all-max quant bytes (levels 0 and the top
// level, zero sub-block scales) under every kind of scale.
TEST_P(CudaConvertMathQuant, ExtremeLevelsUnderEveryScaleKind) {
  const DType t = GetParam();
  const uint32_t size = dtype_info(t).block_bytes;
  std::vector<uint16_t> scales(std::begin(kNonFiniteF16), std::end(kNonFiniteF16));
  for (uint16_t h : {0x0000, 0x8000, 0x0001, 0x83ff, 0x3c00, 0xbc00, 0x7bff, 0xfbff}) scales.push_back(h);
  std::vector<uint8_t> blocks;
  for (uint8_t fill : {0x00, 0xff, 0x80, 0x0f})
    for (uint16_t d : scales)
      for (uint16_t m : scales) {
        std::vector<uint8_t> block(size, fill);
        const std::vector<uint32_t> fields = scale_fields(t);
        put16(block, fields[0], d);
        if (fields.size() > 1) put16(block, fields[1], m);
        blocks.insert(blocks.end(), block.begin(), block.end());
      }
  expect_same_dequantisation(t, blocks);
}

// dequantize_block<T> (one whole block to floats) against the codec's dequantiser.
TEST_P(CudaConvertMathQuant, WholeBlockDecoderMatchesTheCodec) {
  const DType t = GetParam();
  std::mt19937_64 rng(3000 + static_cast<int>(t));
  const uint32_t elems = dtype_info(t).block_elems, size = dtype_info(t).block_bytes;
  const std::vector<uint8_t> blocks = random_blocks(t, 256, rng, 1);
  std::vector<float> want(elems), got(elems);
  for (uint64_t b = 0; b < 256; ++b) {
    const uint8_t* block = blocks.data() + b * size;
    block_codec(t)->dequantize(reinterpret_cast<const std::byte*>(block), want.data(), 1);
    const bool done = cuda::dispatch_conversion(t, DType::F32, [&](auto from_c, auto) {
      cuda::dequantize_block<decltype(from_c)::value>(block, got.data());
    });
    ASSERT_TRUE(done);
    for (uint32_t e = 0; e < elems; ++e) {
      const auto* cpu = reinterpret_cast<const uint8_t*>(&want[e]);
      if (std::memcmp(&got[e], cpu, 4) == 0 || cpu_chose_m_nan(t, DType::F32, block, cpu)) continue;
      FAIL() << dtype_name(t) << " block " << b << " element " << e << ": CPU " << hex_bytes(cpu, 4) << ", GPU math "
             << hex_bytes(reinterpret_cast<const uint8_t*>(&got[e]), 4);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, CudaConvertMathQuant, testing::ValuesIn(kQuantTypes),
                         [](const testing::TestParamInfo<DType>& p) { return std::string(dtype_name(p.param)); });

}  // namespace
}  // namespace wm
