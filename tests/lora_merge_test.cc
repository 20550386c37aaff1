// The merge arithmetic alone: add_lora_delta per dtype against a double
// reference, the Q8_0/Q4_0 requantisers against the format's definition, and
// add_lora_terms against a double matrix-vector product.
#include <gtest/gtest.h>

#include "dtype/block_codec.h"
#include "lora/merge.h"
#include "lora/runtime_term.h"
#include "lora_test_support.h"

namespace wm {
namespace {

using namespace lora_test;

LoraTerm term_of(const Factors& f, uint64_t rows, uint64_t cols) {
  return LoraTerm{"test", static_cast<float>(f.scale()), f.rank, rows, cols, f.down, f.up};
}

class MergeDtype : public ::testing::TestWithParam<DType> {};

TEST_P(MergeDtype, PatchedEqualsDoubleReferenceWithinDtypeTolerance) {
  const DType t = GetParam();
  const uint64_t rows = 12, cols = dtype_block_elems(t) == 256 ? 512 : 96;  // K-quants: two blocks a row
  std::vector<std::byte> bytes = dtype_info(t).packing == Packing::kRowBlock
                                     ? random_blocks(t, rows * cols, 7)
                                     : encode(t, random_floats(rows * cols, 7));
  std::vector<double> before = decode(t, bytes);
  Factors a = random_factors(rows, cols, 4, 11, 8.0f, 0.8);  // alpha 8, rank 4: scale 1.6
  Factors b = random_factors(rows, cols, 2, 23, std::nullopt, -0.5);
  std::vector<LoraTerm> terms{term_of(a, rows, cols), term_of(b, rows, cols)};
  add_lora_delta(t, bytes.data(), rows, cols, terms);
  std::vector<double> want = reference_merge(before, rows, cols, {&a, &b});
  std::vector<double> got = decode(t, bytes);
  expect_merged(t, got, want, dtype_name(t));
  // The delta is really there: the result is far nearer the merge than the base was.
  double moved = 0, missed = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    moved += (before[i] - want[i]) * (before[i] - want[i]);
    missed += (got[i] - want[i]) * (got[i] - want[i]);
  }
  EXPECT_LT(missed, 0.25 * moved) << dtype_name(t);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MergeDtype,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                                           DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

TEST(LoraMerge, PatchableDtypes) {
  // Every type whose codec has both a dequantiser and a quantiser.
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                  DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    EXPECT_TRUE(lora_can_patch(t)) << dtype_name(t);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::IQ4_NL, DType::IQ2_XXS, DType::F64, DType::I32})
    EXPECT_FALSE(lora_can_patch(t)) << dtype_name(t);
  EXPECT_EQ(lora_patchable_dtypes(), "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K");
}

TEST(LoraMerge, Q8_0RoundTripIsWithinHalfAStep) {
  std::vector<float> x = random_floats(256, 3, -2, 2);
  x[0] = 0;  // and a block of zeros
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
  std::vector<std::byte> q(256 / 32 * 34);
  block_codec(DType::Q8_0)->quantize(x.data(), q.data(), 256 / 32);
  std::vector<double> back = decode(DType::Q8_0, q);
  for (size_t b = 0; b < 256; b += 32) {
    double amax = 0;
    for (size_t j = b; j < b + 32; ++j) amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
    for (size_t j = b; j < b + 32; ++j) EXPECT_LE(std::fabs(back[j] - x[j]), amax / 254 + amax * 0x1p-10) << j;
  }
  for (size_t j = 32; j < 64; ++j) EXPECT_EQ(back[j], 0.0);
}

TEST(LoraMerge, Q4_0RoundTripMapsTheLargestMagnitudeExactlyAndTheRestWithinAStep) {
  std::vector<float> x = random_floats(128, 5, -1, 1);
  x[3] = -1.5f;  // block 0's largest magnitude, negative
  x[40] = 1.25f;  // block 1's, positive
  std::vector<std::byte> q(128 / 32 * 18);
  block_codec(DType::Q4_0)->quantize(x.data(), q.data(), 128 / 32);
  std::vector<double> back = decode(DType::Q4_0, q);
  EXPECT_NEAR(back[3], -1.5, 1.5 * 0x1p-10);   // d = max / -8, q = 0: x = -8 d = max
  EXPECT_NEAR(back[40], 1.25, 1.25 * 0x1p-10);
  for (size_t b = 0; b < 128; b += 32) {
    double amax = 0;
    for (size_t j = b; j < b + 32; ++j) amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
    for (size_t j = b; j < b + 32; ++j) EXPECT_LE(std::fabs(back[j] - x[j]), amax / 8 + amax * 0x1p-9) << j;
  }
}

TEST(LoraRuntime, AddLoraTermsEqualsDoubleMatvec) {
  const uint64_t rows = 20, cols = 48;
  Factors a = random_factors(rows, cols, 4, 31, 2.0f, 1.0);
  Factors b = random_factors(rows, cols, 8, 37, std::nullopt, 0.3);
  std::vector<LoraTerm> terms{term_of(a, rows, cols), term_of(b, rows, cols)};
  std::vector<float> x = random_floats(cols, 41);
  std::vector<float> y = random_floats(rows, 43);
  std::vector<double> want(y.begin(), y.end());
  std::vector<double> delta = reference_merge(std::vector<double>(rows * cols, 0.0), rows, cols, {&a, &b});
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j) want[i] += delta[i * cols + j] * x[j];
  add_lora_terms(terms, x, y);
  for (uint64_t i = 0; i < rows; ++i) EXPECT_NEAR(y[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << i;
}

TEST(LoraRuntime, NoTermsLeavesYUnchanged) {
  std::vector<float> x{1, 2}, y{3, 4};
  add_lora_terms({}, x, y);
  EXPECT_EQ(y, (std::vector<float>{3, 4}));
}

}  // namespace
}  // namespace wm
