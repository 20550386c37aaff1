// The block codecs (dtype/block_codec.h) against independent references:
// every dequantiser against gguf-py's gguf.quants.dequantize on random valid
// blocks, the 32-element quantisers against gguf.quants.quantize bytes
// (fixtures: scripts/make_quant_fixtures.py, tests/data/quants/). Both
// references compute in float32 with ggml's order of operations, so the
// values must agree bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dtype/block_codec.h"
#include "dtype/convert.h"
#include "dtype/half.h"
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

TEST(BlockCodec, FloatTypesAndNothingElse) {
  EXPECT_NE(block_codec(DType::F32), nullptr);
  EXPECT_NE(block_codec(DType::F16), nullptr);
  EXPECT_NE(block_codec(DType::BF16), nullptr);
  EXPECT_EQ(block_codec(DType::I32), nullptr);
  EXPECT_EQ(block_codec(DType::F4), nullptr);
  EXPECT_EQ(block_codec(DType::IQ2_XXS), nullptr);  // grid types: no codec yet
}

// --- quantisers against gguf.quants.quantize --------------------------------

class QuantiseLegacy : public ::testing::TestWithParam<DType> {};

TEST_P(QuantiseLegacy, MatchesGgufPyBytes) {
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

INSTANTIATE_TEST_SUITE_P(Legacy, QuantiseLegacy,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

}  // namespace
}  // namespace wm
