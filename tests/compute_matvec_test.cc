// Matrix-vector kernels, every dtype at every SIMD level this CPU has,
// against a scalar reference in double; odd sizes; and the determinism
// contract: y independent of threads and of the SIMD level, and a matrix of
// any dtype but the K-quants gives bit-identical y to the same matrix
// converted to F32. The K-quants take x quantised to Q8_K (as ggml does):
// they are checked against a reference that quantises x the same way, and
// against the F32 result within the error of that quantisation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "compute/matvec.h"
#include "compute/pass.h"
#include "compute/worker_pool.h"
#include "compute_reference.h"
#include "dtype/convert.h"
#include "test_support.h"

namespace wm {
namespace {

using test::random_weights;
using test::reference_decode;

// Every level, those of other architectures too: they skip, saying why.
const std::span<const SimdLevel> kLevels = all_simd_levels();
const DType kDTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                         DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

#define SKIP_UNLESS_SUPPORTED(level)                                                                   \
  if (!simd_level_built(level))                                                                         \
    GTEST_SKIP() << "this build has no " << simd_level_name(level)                                     \
                 << " kernels (another architecture's; cmake/ArchSources.cmake)";                      \
  if (!simd_level_supported(level))                                                                     \
  GTEST_SKIP() << "this CPU lacks " << simd_level_name(level) << " (best here: "                       \
               << simd_level_name(best_simd_level()) << "); its kernels are compiled but cannot run here"

bool quantised(DType t) { return dtype_info(t).block_elems > 1; }

// Row lengths of whole blocks: `blocks` blocks of t each, and 4096.
std::vector<uint64_t> whole_blocks(DType t, std::initializer_list<uint64_t> blocks) {
  std::vector<uint64_t> out;
  for (uint64_t n : blocks) out.push_back(n * dtype_info(t).block_elems);
  out.push_back(4096);
  return out;
}

// Checks y against the double reference. Tolerance: whatever order a float
// sum of n products takes (lanes, fused or separate multiply-add), its error
// is at most gamma_n * sum|w_k x_k| with gamma_n = n u / (1 - n u), u = 2^-24
// (Higham, dot product bound); (cols + 64) u * 1.01 covers it with room for
// the final lane combination. The weights are exact in F32 for F32, F16,
// BF16, Q8_0, Q4_0 and Q5_0 (an 11-bit scale times a small integer); the
// types with an offset (Q4_1, Q5_1: d * q + m; Q4_K, Q5_K: (d * sc) * q -
// dmin * m) and Q6_K ((d * sc) * q, up to 25 bits) round each weight once,
// at most u |w|: two more u * sum|w_k x_k| cover it.
bool kquant(DType t) { return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K; }

// K-quants: y[r] = sum over blocks b of d_x[b] * sum_k w[k] q_x[k], x
// quantised by the reference Q8_K quantiser. The kernel's integer sums are
// exact; its float work per block is the product of (d_w * d_x) and the
// converted integer sum (three roundings), the same for the minimum, their
// difference, and the running sum over blocks: at most (blocks + 5) u times
// M = sum_k (|d sc q| + |dmin m|)_k |d_x q_x[k]|; (blocks + 8) u * 1.01
// covers it.
void expect_matches_kquant_reference(DType dtype, const std::vector<std::byte>& w, uint64_t rows, uint64_t cols,
                                     const std::vector<float>& x, const std::vector<float>& y) {
  std::vector<double> mag_w;
  std::vector<double> ref = reference_decode(dtype, w.data(), w.size(), &mag_w);
  ASSERT_EQ(ref.size(), rows * cols);
  test::RefQ8K xq = test::reference_q8k(x);
  int bad = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    double sum = 0, mag = 0;
    for (uint64_t k = 0; k < cols; ++k) {
      double xk = static_cast<double>(xq.d[k / 256]) * xq.q[k];
      sum += ref[r * cols + k] * xk;
      mag += mag_w[r * cols + k] * std::fabs(xk);
    }
    double tol = static_cast<double>(cols / 256 + 8) * 0x1p-24 * 1.01 * mag;
    if (std::fabs(y[r] - sum) > tol && bad++ < 5)
      ADD_FAILURE() << "row " << r << " of " << rows << " (cols " << cols << "): got " << y[r] << ", want " << sum
                    << " +- " << tol;
  }
}

void expect_matches_reference(DType dtype, const std::vector<std::byte>& w, uint64_t rows, uint64_t cols,
                              const std::vector<float>& x, const std::vector<float>& y) {
  if (kquant(dtype)) return expect_matches_kquant_reference(dtype, w, rows, cols, x, y);
  std::vector<double> ref = reference_decode(dtype, w.data(), w.size());
  ASSERT_EQ(ref.size(), rows * cols);
  int bad = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    double sum = 0, mag = 0;
    for (uint64_t k = 0; k < cols; ++k) {
      sum += ref[r * cols + k] * x[k];
      mag += std::fabs(ref[r * cols + k] * x[k]);
    }
    double tol = static_cast<double>(cols + 66) * 0x1p-24 * 1.01 * mag;
    if (std::fabs(y[r] - sum) > tol && bad++ < 5)
      ADD_FAILURE() << "row " << r << " of " << rows << " (cols " << cols << "): got " << y[r] << ", want " << sum
                    << " +- " << tol;
  }
}

std::vector<float> run_matvec(SimdLevel level, DType dtype, const std::vector<std::byte>& w, uint64_t rows,
                              uint64_t cols, const std::vector<float>& x, WorkerPool* pool) {
  std::vector<float> y(rows, std::nanf(""));
  matvec(level, MatrixView{dtype, w.data(), rows, cols}, x.data(), y.data(), pool);
  return y;
}

class MatvecTest : public ::testing::TestWithParam<std::tuple<SimdLevel, DType>> {};

std::string param_name(const ::testing::TestParamInfo<MatvecTest::ParamType>& info) {
  return std::string(simd_level_name(std::get<0>(info.param))) + "_" + dtype_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllLevelsAndDTypes, MatvecTest,
                         ::testing::Combine(::testing::ValuesIn(kLevels), ::testing::ValuesIn(kDTypes)), param_name);

TEST_P(MatvecTest, MatchesDoubleReferenceOnOddSizes) {
  auto [level, dtype] = GetParam();
  SKIP_UNLESS_SUPPORTED(level);
  // Float types: columns around every vector width (8, 16) and step (32);
  // quantised types: whole blocks, odd numbers of them.
  std::vector<uint64_t> cols_list = quantised(dtype)
                                        ? whole_blocks(dtype, {1, 2, 3, 5, 7})
                                        : std::vector<uint64_t>{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 257};
  uint64_t seed = 1;
  for (uint64_t rows : {1u, 3u, 1000u})
    for (uint64_t cols : cols_list) {
      SCOPED_TRACE(testing::Message() << rows << " x " << cols);
      auto w = random_weights(dtype, rows, cols, seed++);
      auto x = seeded_input(seed, cols);
      expect_matches_reference(dtype, w, rows, cols, x, run_matvec(level, dtype, w, rows, cols, x, nullptr));
    }
}

TEST_P(MatvecTest, ThreadCountAndRowSplitDoNotChangeY) {
  auto [level, dtype] = GetParam();
  SKIP_UNLESS_SUPPORTED(level);
  uint64_t rows = 1003, cols = quantised(dtype) ? 2048 : 2049;  // over a MiB: split across threads
  auto w = random_weights(dtype, rows, cols, 7);
  auto x = seeded_input(3, cols);
  WorkerPool one(1), two(2), three(3);
  auto y1 = run_matvec(level, dtype, w, rows, cols, x, &one);
  auto y2 = run_matvec(level, dtype, w, rows, cols, x, &two);
  auto y3 = run_matvec(level, dtype, w, rows, cols, x, &three);
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), rows * 4), 0);
  EXPECT_EQ(std::memcmp(y1.data(), y3.data(), rows * 4), 0);
  // Row ranges computed separately give the same bits as the whole.
  std::vector<float> parts(rows);
  MatrixView view{dtype, w.data(), rows, cols};
  matvec_rows(level, view, x.data(), parts.data(), 0, 1);
  matvec_rows(level, view, x.data(), parts.data(), 1, 500);
  matvec_rows(level, view, x.data(), parts.data(), 500, rows);
  EXPECT_EQ(std::memcmp(y1.data(), parts.data(), rows * 4), 0);
  expect_matches_reference(dtype, w, rows, cols, x, y2);
}

TEST_P(MatvecTest, BitIdenticalToThePortableKernel) {
  auto [level, dtype] = GetParam();
  SKIP_UNLESS_SUPPORTED(level);
  std::vector<uint64_t> cols_list = quantised(dtype) ? std::vector<uint64_t>{256, 512, 4096}
                                                     : std::vector<uint64_t>{1, 7, 31, 32, 33, 65, 257, 4099};
  for (uint64_t cols : cols_list) {
    SCOPED_TRACE(testing::Message() << "cols " << cols);
    uint64_t rows = 19;
    auto w = random_weights(dtype, rows, cols, cols + 5);
    auto x = seeded_input(13, cols);
    auto y = run_matvec(level, dtype, w, rows, cols, x, nullptr);
    auto y_portable = run_matvec(SimdLevel::kPortable, dtype, w, rows, cols, x, nullptr);
    EXPECT_EQ(std::memcmp(y.data(), y_portable.data(), rows * 4), 0);
  }
}

// Not the K-quants: they take x quantised to Q8_K, the F32 kernel does not
// (KQuantTest below bounds the difference instead).
class MatvecConvertedTest : public MatvecTest {};
INSTANTIATE_TEST_SUITE_P(AllLevelsAndNonF32DTypes, MatvecConvertedTest,
                         ::testing::Combine(::testing::ValuesIn(kLevels),
                                            ::testing::Values(DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                                                              DType::Q4_1, DType::Q5_0, DType::Q5_1)),
                         param_name);

TEST_P(MatvecConvertedTest, BitIdenticalToTheSameMatrixConvertedToF32) {
  auto [level, dtype] = GetParam();
  SKIP_UNLESS_SUPPORTED(level);
  std::vector<uint64_t> cols_list = quantised(dtype) ? whole_blocks(dtype, {1, 3})
                                                     : std::vector<uint64_t>{1, 7, 17, 33, 65, 257, 4099};
  for (uint64_t cols : cols_list) {
    SCOPED_TRACE(testing::Message() << "cols " << cols);
    uint64_t rows = 37;
    auto w = random_weights(dtype, rows, cols, cols);
    std::vector<std::byte> f32(rows * cols * 4);
    ASSERT_EQ(convert(dtype, DType::F32, w.data(), f32.data(), rows * cols), 0u);
    auto x = seeded_input(11, cols);
    auto y = run_matvec(level, dtype, w, rows, cols, x, nullptr);
    auto y_f32 = run_matvec(level, DType::F32, f32, rows, cols, x, nullptr);
    EXPECT_EQ(std::memcmp(y.data(), y_f32.data(), rows * 4), 0);
  }
}

class KQuantTest : public MatvecTest {};
INSTANTIATE_TEST_SUITE_P(AllLevelsAndKQuants, KQuantTest,
                         ::testing::Combine(::testing::ValuesIn(kLevels),
                                            ::testing::Values(DType::Q4_K, DType::Q5_K, DType::Q6_K)),
                         param_name);

// y of a K-quant matrix against y of the same matrix converted to F32 (the
// F32 kernel, exact x): Q8_K rounds x[k] to the nearest multiple of
// d = amax / 127 of its block, an error of at most amax / 254 (plus the
// float roundings of d, far smaller), so the difference is at most
// sum over blocks of sum |w_k| * amax / 254; we allow amax / 127, plus both
// kernels' float error bounds (the two tests above).
TEST_P(KQuantTest, WithinTheErrorOfQuantisingXOfTheF32Result) {
  auto [level, dtype] = GetParam();
  SKIP_UNLESS_SUPPORTED(level);
  for (uint64_t cols : {256u, 768u, 4096u}) {
    SCOPED_TRACE(testing::Message() << "cols " << cols);
    uint64_t rows = 37;
    auto w = random_weights(dtype, rows, cols, cols);
    std::vector<std::byte> f32(rows * cols * 4);
    ASSERT_EQ(convert(dtype, DType::F32, w.data(), f32.data(), rows * cols), 0u);
    auto x = seeded_input(11, cols);
    auto y = run_matvec(level, dtype, w, rows, cols, x, nullptr);
    auto y_f32 = run_matvec(level, DType::F32, f32, rows, cols, x, nullptr);
    std::vector<double> mag_w;
    std::vector<double> ref = reference_decode(dtype, w.data(), w.size(), &mag_w);
    test::RefQ8K xq = test::reference_q8k(x);
    int differ = 0;
    for (uint64_t r = 0; r < rows; ++r) {
      double quant = 0, f32_err = 0, k_err = 0;
      for (uint64_t k = 0; k < cols; ++k) {
        double wk = ref[r * cols + k];
        quant += std::fabs(wk) * xq.amax[k / 256] / 127;
        f32_err += std::fabs(wk * x[k]);
        k_err += mag_w[r * cols + k] * std::fabs(static_cast<double>(xq.d[k / 256]) * xq.q[k]);
      }
      double tol = quant + static_cast<double>(cols + 66) * 0x1p-24 * 1.01 * f32_err +
                   static_cast<double>(cols / 256 + 8) * 0x1p-24 * 1.01 * k_err;
      EXPECT_LE(std::fabs(static_cast<double>(y[r]) - y_f32[r]), tol) << "row " << r;
      differ += y[r] != y_f32[r];
    }
    EXPECT_GT(differ, 0) << "x was not quantised: the K-quant kernel gave the F32 result exactly";
  }
}

TEST(Matvec, ZeroColumnsGiveZeroAndRowBytesFollowBlocks) {
  std::vector<float> y(4, 1.0f);
  matvec(SimdLevel::kPortable, MatrixView{DType::F32, nullptr, 4, 0}, nullptr, y.data(), nullptr);
  for (float v : y) EXPECT_EQ(v, 0.0f);
  uint64_t q[] = {4, 64};
  EXPECT_EQ(MatrixView::from_shape(DType::Q4_0, nullptr, q).row_bytes(), 36u);
  EXPECT_TRUE(matvec_supports(DType::Q8_0));
  EXPECT_FALSE(matvec_supports(DType::I32));
  EXPECT_TRUE(matvec_supports(DType::Q6_K));
  EXPECT_FALSE(matvec_supports(DType::Q3_K));
}

// The view rule (matrix_view.h), case by case: {shape} -> rows x cols.
struct ViewCase {
  DType dtype;
  std::vector<uint64_t> shape;
  uint64_t rows, cols;
};

TEST(MatrixView, TrailingDimensionsMergeUntilRowsAreLong) {
  const ViewCase cases[] = {
      {DType::F16, {4096, 4096}, 4096, 4096},              // a matrix stays as it is
      {DType::F16, {3, 100}, 3, 100},                      // short rows but only one dim to merge into
      {DType::F16, {320, 320, 3, 3}, 320, 2880},           // conv 3x3: out x in*kh*kw
      {DType::F16, {320, 320, 1, 1}, 320, 320},            // conv 1x1
      {DType::F16, {128, 3, 3, 3}, 128, 27},               // conv_in: all but the first dim
      {DType::F16, {1280, 2560, 3, 3}, 1280, 23040},       // the widest SD 1.5 conv
      {DType::F16, {2, 3, 5}, 2, 15},                      // all but the first, still short
      {DType::F16, {8, 1024, 4096}, 8 * 1024, 4096},       // experts: x stays one row long
      {DType::F16, {8, 4, 64, 16}, 8 * 4, 1024},           // merged until >= 256
      {DType::F16, {2, 1 << 21, 2}, 2 << 21, 2},           // merging would make x over 2^20 floats
      {DType::Q8_0, {64, 4, 32}, 64, 128},                 // whole Q8_0 blocks per row either way
      {DType::Q4_K, {8, 64, 256}, 512, 256},               // K-quant rows are already >= 256
      {DType::F32, {7}, 1, 7},
      {DType::F32, {}, 1, 1},
      {DType::F16, {4, 0, 3}, 4, 0},                       // empty: never sizes anything (see pass.cc)
  };
  for (const ViewCase& c : cases) {
    MatrixView m = MatrixView::from_shape(c.dtype, nullptr, c.shape);
    EXPECT_EQ(m.rows, c.rows) << dtype_name(c.dtype) << " " << ::testing::PrintToString(c.shape);
    EXPECT_EQ(m.cols, c.cols) << dtype_name(c.dtype) << " " << ::testing::PrintToString(c.shape);
  }
  // A Q8_0 last dimension that is not whole blocks is not merged (the shape is refused by the pass).
  uint64_t odd[] = {4, 3, 20};
  EXPECT_EQ(MatrixView::from_shape(DType::Q8_0, nullptr, odd).cols, 20u);
}

TEST(SimdLevel, NamesRoundTripAndPortableIsAlwaysThere) {
  for (SimdLevel l : kLevels) EXPECT_EQ(simd_level_from_name(simd_level_name(l)), l);
  EXPECT_FALSE(simd_level_from_name("sse9"));
  EXPECT_TRUE(simd_level_supported(SimdLevel::kPortable));
  EXPECT_TRUE(simd_level_supported(best_simd_level()));
}

// A build holds its own architecture's levels (cmake/ArchSources.cmake):
// x86-64 AVX2 and AVX-512, arm64 NEON (baseline there, so always supported).
TEST(SimdLevel, BuildHasOneArchitecturesLevels) {
  EXPECT_TRUE(simd_level_built(SimdLevel::kPortable));
  EXPECT_EQ(simd_level_built(SimdLevel::kAvx2), simd_level_built(SimdLevel::kAvx512));
  EXPECT_FALSE(simd_level_built(SimdLevel::kAvx2) && simd_level_built(SimdLevel::kNeon));
  for (SimdLevel l : kLevels) EXPECT_TRUE(!simd_level_supported(l) || simd_level_built(l)) << simd_level_name(l);
  if (simd_level_built(SimdLevel::kNeon)) {
    EXPECT_TRUE(simd_level_supported(SimdLevel::kNeon));
    EXPECT_EQ(best_simd_level(), SimdLevel::kNeon);
  }
}

TEST(SimdLevel, EnvironmentChoosesOrFailsClearly) {
  ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", "portable"));
  auto p = simd_level_from_env();
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(*p, SimdLevel::kPortable);
  ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", "sse9"));
  auto bad = simd_level_from_env();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown level"), std::string::npos) << bad.error().message;
  for (SimdLevel l : kLevels) {
    if (simd_level_supported(l)) continue;
    ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", simd_level_name(l)));
    auto missing = simd_level_from_env();
    ASSERT_FALSE(missing.ok());
    const char* why = simd_level_built(l) ? "does not support" : "this build has no";
    EXPECT_NE(missing.error().message.find(why), std::string::npos) << missing.error().message;
  }
  ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", nullptr));
  auto best = simd_level_from_env();
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(*best, best_simd_level());
}

TEST(WorkerPool, EveryItemOnceWhateverTheGrain) {
  WorkerPool pool(2);
  for (uint64_t grain : {1u, 3u, 64u, 5000u}) {
    std::vector<int> seen(1000, 0);
    pool.parallel_for(seen.size(), grain, [&](uint64_t b, uint64_t e) {
      for (uint64_t i = b; i < e; ++i) ++seen[i];
    });
    for (int s : seen) ASSERT_EQ(s, 1);
  }
  pool.parallel_for(0, 1, [](uint64_t, uint64_t) { FAIL() << "called for an empty range"; });
}

}  // namespace
}  // namespace wm
