// The block codecs (dtype/block_codec.h) against independent references:
// every dequantiser against gguf-py's gguf.quants.dequantize on random valid
// blocks, the 32-element quantisers against gguf.quants.quantize bytes, the
// K-quant quantisers against a numpy float32 re-implementation of ggml's
// quantize_row_q*_K_ref (fixtures: scripts/make_quant_fixtures.py,
// tests/data/quants/). The references compute in float32 with ggml's order
// of operations, so values and bytes must agree bit for bit. The K-quant
// quantisers are also held to their error bound on other data.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dtype/block_codec.h"
#include "dtype/convert.h"
#include "dtype/half.h"
#include "kquant_bounds.h"
#include "test_support.h"

namespace wm {
namespace {

std::string fixture(const std::string& name) {
  return (std::filesystem::path(WM_SOURCE_DIR) / "tests/data/quants" / name).string();
}

std::vector<float> read_floats(const std::string& path) {
  std::vector<std::byte> bytes = test::read_file(path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// Bit-identical floats (so -0 vs 0 and NaN payloads count), naming the first difference.
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "got " << got.size() << " values, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i]))
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << ", want " << want[i];
  return ::testing::AssertionSuccess();
}

// Every type with a fixture; a codec without one fails DequantisersAllCovered.
constexpr DType kDequantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0,   DType::Q5_1,   DType::Q8_0,  DType::Q8_1,
                                   DType::Q2_K, DType::Q3_K, DType::Q4_K,   DType::Q5_K,   DType::Q6_K,  DType::Q8_K,
                                   DType::IQ4_NL, DType::IQ4_XS, DType::TQ1_0, DType::TQ2_0, DType::MXFP4};

class Dequantise : public ::testing::TestWithParam<DType> {};

TEST_P(Dequantise, MatchesGgufPyReference) {
  const DType t = GetParam();
  const BlockCodec* codec = block_codec(t);
  ASSERT_NE(codec, nullptr);
  ASSERT_NE(codec->dequantize, nullptr);
  const std::vector<std::byte> blocks = test::read_file(fixture(std::string(dtype_name(t)) + ".bin"));
  const std::vector<float> want = read_floats(fixture(std::string(dtype_name(t)) + ".f32"));
  const DTypeInfo& info = dtype_info(t);
  ASSERT_EQ(blocks.size() % info.block_bytes, 0u);
  const uint64_t nblocks = blocks.size() / info.block_bytes;
  ASSERT_EQ(want.size(), nblocks * info.block_elems);

  std::vector<float> got(want.size());
  codec->dequantize(blocks.data(), got.data(), nblocks);
  EXPECT_TRUE(same_bits(got, want)) << dtype_name(t) << " all blocks at once";

  // One block at a time: no state carried between blocks.
  std::vector<float> one(want.size());
  for (uint64_t b = 0; b < nblocks; ++b)
    codec->dequantize(blocks.data() + b * info.block_bytes, one.data() + b * info.block_elems, 1);
  EXPECT_TRUE(same_bits(one, want)) << dtype_name(t) << " block by block";
}

TEST_P(Dequantise, ConvertToF32AndF16) {
  const DType t = GetParam();
  const std::vector<std::byte> blocks = test::read_file(fixture(std::string(dtype_name(t)) + ".bin"));
  const std::vector<float> want = read_floats(fixture(std::string(dtype_name(t)) + ".f32"));
  const uint64_t n = want.size();
  ASSERT_TRUE(can_convert(t, DType::F32));
  ASSERT_TRUE(can_convert(t, DType::F16));
  ASSERT_TRUE(can_convert(t, DType::BF16));

  // The fixtures hold more than one conversion chunk and end in a partial one.
  std::vector<float> f32(n);
  EXPECT_EQ(convert(t, DType::F32, blocks.data(), reinterpret_cast<std::byte*>(f32.data()), n), 0u);
  EXPECT_TRUE(same_bits(f32, want)) << dtype_name(t);

  // F16: each reference value rounded once (half.h's rounding is checked
  // against a double reference in half_test).
  std::vector<uint16_t> f16(n);
  EXPECT_EQ(convert(t, DType::F16, blocks.data(), reinterpret_cast<std::byte*>(f16.data()), n), 0u);
  for (uint64_t i = 0; i < n; ++i) {
    // Reference values beyond F16's range round to infinity, as any F32 -> F16 cast.
    ASSERT_EQ(f16[i], f32_to_f16(want[i])) << dtype_name(t) << " element " << i;
  }

  // A destination at an odd address: convert must not assume alignment.
  std::vector<std::byte> odd(n * 4 + 1);
  convert(t, DType::F32, blocks.data(), odd.data() + 1, n);
  std::vector<float> unaligned(n);
  std::memcpy(unaligned.data(), odd.data() + 1, n * 4);
  EXPECT_TRUE(same_bits(unaligned, want)) << dtype_name(t);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Dequantise, ::testing::ValuesIn(kDequantTypes),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

TEST(BlockCodec, DequantisersAllCovered) {
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i) {
    const auto t = static_cast<DType>(i);
    const BlockCodec* codec = block_codec(t);
    if (!codec || dtype_info(t).packing != Packing::kRowBlock) continue;
    bool tested = false;
    for (DType u : kDequantTypes) tested = tested || u == t;
    EXPECT_TRUE(tested) << dtype_name(t) << " has a codec but no reference fixture";
  }
}

// A codec reads whole blocks along a row: only row-block types have one, and
// the float types every codec decodes to. (A test, not a static_assert in
// dtype.cc: a codec's address is not a constant expression under the
// sanitizers.)
TEST(BlockCodec, OnlyRowBlockAndFloatTypesHaveOne) {
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i) {
    const auto t = static_cast<DType>(i);
    if (!block_codec(t)) continue;
    EXPECT_TRUE(dtype_info(t).packing == Packing::kRowBlock || t == DType::F32 || t == DType::F16 ||
                t == DType::BF16)
        << dtype_name(t);
    EXPECT_NE(block_codec(t)->dequantize, nullptr) << dtype_name(t);  // a codec always reads
  }
}

TEST(BlockCodec, FloatTypesAndNothingElse) {
  EXPECT_NE(block_codec(DType::F32), nullptr);
  EXPECT_NE(block_codec(DType::F16), nullptr);
  EXPECT_NE(block_codec(DType::BF16), nullptr);
  EXPECT_EQ(block_codec(DType::I32), nullptr);
  EXPECT_EQ(block_codec(DType::F4), nullptr);
  EXPECT_EQ(block_codec(DType::IQ2_XXS), nullptr);  // grid types: no codec yet
}

// --- quantisers against reference bytes ---------------------------------------
// Q4_0 Q4_1 Q5_0 Q5_1 Q8_0: gguf.quants.quantize. Q4_K Q5_K Q6_K Q8_K: gguf-py has
// no K-quant quantiser; the fixture script re-implements ggml's
// quantize_row_q*_K_ref in numpy float32, one operation at a time.

class Quantise : public ::testing::TestWithParam<DType> {};

TEST_P(Quantise, MatchesReferenceBytes) {
  const DType t = GetParam();
  const BlockCodec* codec = block_codec(t);
  ASSERT_NE(codec->quantize, nullptr);
  const std::vector<float> x = read_floats(fixture("quantize_input.f32"));
  const std::vector<std::byte> want = test::read_file(fixture(std::string(dtype_name(t)) + ".q.bin"));
  const DTypeInfo& info = dtype_info(t);
  const uint64_t nblocks = x.size() / info.block_elems;
  ASSERT_EQ(want.size(), nblocks * info.block_bytes);
  std::vector<std::byte> got(want.size());
  codec->quantize(x.data(), got.data(), nblocks);
  for (uint64_t b = 0; b < nblocks; ++b)
    ASSERT_EQ(0, std::memcmp(got.data() + b * info.block_bytes, want.data() + b * info.block_bytes, info.block_bytes))
        << dtype_name(t) << " block " << b;
}

INSTANTIATE_TEST_SUITE_P(ByType, Quantise,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                           DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

// --- K-quant quantisers: properties on other data ------------------------------

// Deterministic normal-ish values (sum of uniforms), with a few outliers.
std::vector<float> gaussian_floats(size_t n, uint32_t seed) {
  std::vector<std::byte> bytes = test::pattern(n * 4, seed);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    float s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<float>(static_cast<uint8_t>(bytes[4 * i + k])) / 255.0f - 0.5f;
    x[i] = s * (i % 97 == 0 ? 8.0f : 1.0f);
  }
  return x;
}

struct KQuantBound {
  DType type;
  double rms_bound;  // relative RMS error bound on this data
};

// Per value: kquant_tolerance (kquant_bounds.h). RMS: measured 0.088 (Q4_K),
// 0.044 (Q5_K), 0.024 (Q6_K) on this data (Gaussian-like with 1% of values
// 8x larger); a broken quantiser is off by far more.
constexpr KQuantBound kKQuantBounds[] = {{DType::Q4_K, 0.1}, {DType::Q5_K, 0.055}, {DType::Q6_K, 0.03}};

TEST(KQuantise, RoundTripErrorWithinTheTypesBound) {
  const std::vector<float> x = gaussian_floats(64 * 256, 7);
  for (const KQuantBound& k : kKQuantBounds) {
    SCOPED_TRACE(dtype_name(k.type));
    const BlockCodec& codec = *block_codec(k.type);
    const uint64_t nblocks = x.size() / 256;
    std::vector<std::byte> q(nblocks * dtype_block_bytes(k.type));
    codec.quantize(x.data(), q.data(), nblocks);
    std::vector<float> back(x.size());
    codec.dequantize(q.data(), back.data(), nblocks);
    double err2 = 0, x2 = 0;
    size_t bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = std::fabs(static_cast<double>(back[i]) - x[i]);
      const double tol = test::kquant_tolerance(k.type, x.data() + i / 256 * 256, i % 256);
      if (e > tol + 1e-6 && bad++ < 5) ADD_FAILURE() << "element " << i << ": " << x[i] << " -> " << back[i];
      err2 += e * e;
      x2 += static_cast<double>(x[i]) * x[i];
    }
    EXPECT_LT(std::sqrt(err2 / x2), k.rms_bound);

    // Idempotence, nearly: requantising the reconstruction moves no value by
    // more than the same bound (the scale search need not find the grid the
    // values came from).
    std::vector<std::byte> q2(q.size());
    codec.quantize(back.data(), q2.data(), nblocks);
    std::vector<float> back2(x.size());
    codec.dequantize(q2.data(), back2.data(), nblocks);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_LE(std::fabs(static_cast<double>(back2[i]) - back[i]),
                test::kquant_tolerance(k.type, back.data() + i / 256 * 256, i % 256) + 1e-6)
          << i;

    // An all-zero block stays exactly zero.
    std::vector<float> zeros(256, 0.0f), out(256, 1.0f);
    std::vector<std::byte> qz(dtype_block_bytes(k.type));
    codec.quantize(zeros.data(), qz.data(), 1);
    codec.dequantize(qz.data(), out.data(), 1);
    for (float v : out) ASSERT_EQ(v, 0.0f);
  }
}

}  // namespace
}  // namespace wm
