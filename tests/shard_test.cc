// Tensor-parallel slices (Options::shard): every rank's slice is the right
// rows or columns of the file's bytes (computed here from what the test
// wrote, by plain arithmetic), row slices are zero copy, column slices are
// gathered through the staging budget, padding is zeros, uneven or
// off-block cuts are refused naming the tensor, and the report adds up.
#include <gtest/gtest.h>

#include <cstring>

#include "weightmap/weightmap.hpp"

// Test inputs only: the project's writers make the files.
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "lora_test_support.h"
#include "slice_expect.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;
using test::cols_of;
using test::rows_of;
using Bytes = std::vector<std::byte>;

struct Written {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  Bytes bytes;
};

std::string write_st(const TempDir& dir, const std::vector<Written>& tensors, const std::string& file = "m.safetensors") {
  SafetensorsWriter w;
  for (const auto& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
  std::string path = dir.file(file);
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

std::string write_gguf(const TempDir& dir, const std::vector<Written>& tensors) {
  GgufWriter w;
  for (const auto& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
  std::string path = dir.file("m.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

Bytes bytes_of(const Tensor& t) {
  EXPECT_NE(t.host_data, nullptr) << t.name;
  return t.host_data ? Bytes(t.host_data, t.host_data + t.nbytes) : Bytes();
}

Options sharded(uint32_t rank, uint32_t world, std::string rules) {
  Options o;
  o.shard.rank = rank;
  o.shard.world = world;
  o.shard.rules = std::move(rules);
  return o;
}

TEST(Shard, RowSlicesAreMappedAndEqualTheFileRows) {
  TempDir dir;
  Bytes full = test::pattern(8 * 16 * 4, 1);
  std::string path = write_st(dir, {{"w", DType::F32, {8, 16}, full}});
  auto whole = open(path);
  ASSERT_TRUE(whole) << whole.error().to_string();
  for (uint32_t world : {2u, 4u}) {
    for (uint32_t rank = 0; rank < world; ++rank) {
      auto m = open(path, sharded(rank, world, "w=rows"));
      ASSERT_TRUE(m) << m.error().to_string();
      const Tensor& t = *m->find("w");
      const uint64_t n = 8 / world;
      EXPECT_EQ(t.shape, (std::vector<uint64_t>{n, 16}));
      EXPECT_EQ(t.placement, Placement::kMap) << t.reason;
      EXPECT_EQ(t.file_offset, whole->find("w")->file_offset + rank * n * 64);  // a pointer into the mapping
      EXPECT_EQ(t.slice.dim, SliceDim::kRows);
      EXPECT_EQ(t.slice.start, rank * n);
      EXPECT_EQ(t.slice.count, n);
      EXPECT_EQ(t.slice.full_shape, (std::vector<uint64_t>{8, 16}));
      EXPECT_EQ(bytes_of(t), rows_of(full, 64, rank * n, n));
      EXPECT_EQ(m->report().tensors_mapped, 1u);
      EXPECT_EQ(m->report().anon_growth_mib() < 1.0, true);
    }
  }
}

TEST(Shard, ColumnSlicesAreGatheredThroughSmallStagingSlots) {
  TempDir dir;
  // 64 rows of 256 F32 columns; 4 KiB of staging forces chunks that start mid-row.
  Bytes full = test::pattern(64 * 256 * 4, 2);
  std::string path = write_st(dir, {{"w", DType::F32, {64, 256}, full}});
  for (uint32_t world : {2u, 4u}) {
    for (uint32_t rank = 0; rank < world; ++rank) {
      Options o = sharded(rank, world, "*=cols");
      o.staging_bytes = 4096;
      auto m = open(path, o);
      ASSERT_TRUE(m) << m.error().to_string();
      const Tensor& t = *m->find("w");
      const uint64_t n = 256 / world;
      EXPECT_EQ(t.shape, (std::vector<uint64_t>{64, n}));
      EXPECT_EQ(t.placement, Placement::kCopy);
      EXPECT_EQ(t.reason, "column slice: gathered row by row");
      EXPECT_EQ(bytes_of(t), cols_of(full, 64, rank * n * 4, n * 4));
      EXPECT_LE(m->report().staging_peak_bytes, 4096u * 2);
    }
  }
}

TEST(Shard, SlicesOfAllRanksMakeTheWholeTensorAndTheReportAddsUp) {
  TempDir dir;
  Bytes a = test::pattern(12 * 8 * 2, 3), b = test::pattern(6 * 20 * 2, 4), norm = test::pattern(20 * 4, 5);
  std::string path = write_st(dir, {{"a", DType::F16, {12, 8}, a}, {"b", DType::BF16, {6, 20}, b},
                                    {"norm", DType::F32, {20}, norm}});
  const uint32_t world = 2;
  Bytes rows_a, cols_b[6];
  uint64_t bytes = 0, full = 0;
  for (uint32_t rank = 0; rank < world; ++rank) {
    auto m = open(path, sharded(rank, world, "a=rows,b=cols,norm=replicate"));
    ASSERT_TRUE(m) << m.error().to_string();
    Bytes ra = bytes_of(*m->find("a"));
    rows_a.insert(rows_a.end(), ra.begin(), ra.end());
    Bytes cb = bytes_of(*m->find("b"));
    for (uint64_t r = 0; r < 6; ++r) cols_b[r].insert(cols_b[r].end(), cb.begin() + r * 20, cb.begin() + r * 20 + 20);
    EXPECT_EQ(bytes_of(*m->find("norm")), norm);
    const ShardReport& s = m->report().shard;
    EXPECT_EQ(s.rank, rank);
    EXPECT_EQ(s.world, world);
    EXPECT_EQ(s.tensors_rows, 1u);
    EXPECT_EQ(s.tensors_cols, 1u);
    EXPECT_EQ(s.tensors_replicated, 1u);
    bytes += s.bytes - norm.size();  // the replicated tensor is on every rank
    full = s.full_bytes;
    EXPECT_EQ(m->report().bytes_total, s.bytes);
  }
  EXPECT_EQ(rows_a, a);
  Bytes joined;
  for (auto& r : cols_b) joined.insert(joined.end(), r.begin(), r.end());
  EXPECT_EQ(joined, b);
  EXPECT_EQ(bytes + norm.size(), full);
}

TEST(Shard, PadRulesZeroFillUnevenSplitsAndUnevenWithoutPadIsRefused) {
  TempDir dir;
  Bytes full = test::pattern(5 * 6 * 4, 6);
  std::string path = write_st(dir, {{"w", DType::F32, {5, 6}, full}});
  auto bad = open(path, sharded(0, 2, "w=rows"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().tensor, "w");
  EXPECT_EQ(bad.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(bad.error().message.find("5 rows do not divide among 2 ranks"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find(":pad"), std::string::npos);
  // 5 rows over 4 ranks: 2, 2, 1 (+1 zero row), 0 (+2 zero rows).
  const uint64_t starts[] = {0, 2, 4, 5}, counts[] = {2, 2, 1, 0};
  for (uint32_t rank = 0; rank < 4; ++rank) {
    auto m = open(path, sharded(rank, 4, "w=rows:pad"));
    ASSERT_TRUE(m) << m.error().to_string();
    const Tensor& t = *m->find("w");
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{2, 6}));
    EXPECT_EQ(t.slice.start, starts[rank]);
    EXPECT_EQ(t.slice.count, counts[rank]);
    EXPECT_EQ(t.slice.padded, 2 - counts[rank]);
    EXPECT_EQ(t.placement, rank < 2 ? Placement::kMap : Placement::kCopy) << t.reason;
    EXPECT_EQ(bytes_of(t), rows_of(full, 24, starts[rank], counts[rank], 2 - counts[rank]));
  }
  // 6 columns over 4 ranks: 2, 2, 2, 0 (+2 zero columns each row).
  for (uint32_t rank = 0; rank < 4; ++rank) {
    auto m = open(path, sharded(rank, 4, "w=cols:pad"));
    ASSERT_TRUE(m) << m.error().to_string();
    const Tensor& t = *m->find("w");
    const uint64_t count = rank < 3 ? 2 : 0;
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{5, 2}));
    EXPECT_EQ(bytes_of(t), cols_of(full, 5, std::min<uint64_t>(rank * 2, 6) * 4, count * 4, (2 - count) * 4));
  }
}

TEST(Shard, QuantisedTensorsAreCutOnBlockBoundariesOnly) {
  TempDir dir;
  // Q8_0: blocks of 32 elements in 34 bytes; 3 rows of 128 columns = 4 blocks a row.
  Bytes full = test::pattern(3 * 4 * 34, 7);
  std::string path = write_gguf(dir, {{"q", DType::Q8_0, {3, 128}, full}});
  for (uint32_t rank = 0; rank < 4; ++rank) {
    auto m = open(path, sharded(rank, 4, "q=cols"));
    ASSERT_TRUE(m) << m.error().to_string();
    const Tensor& t = *m->find("q");
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{3, 32}));
    EXPECT_EQ(bytes_of(t), cols_of(full, 3, rank * 34, 34));
  }
  auto eight = open(path, sharded(0, 8, "q=cols"));
  ASSERT_FALSE(eight);
  EXPECT_EQ(eight.error().tensor, "q");
  EXPECT_NE(eight.error().message.find("4 blocks of 32"), std::string::npos) << eight.error().message;
  auto off_block = open(path, sharded(0, 1, "q=cols[16:48]"));
  ASSERT_FALSE(off_block);
  EXPECT_NE(off_block.error().message.find("block boundaries"), std::string::npos) << off_block.error().message;
  auto range = open(path, sharded(0, 1, "q=cols[32:96]"));
  ASSERT_TRUE(range) << range.error().to_string();
  EXPECT_EQ(bytes_of(*range->find("q")), cols_of(full, 3, 34, 68));
  // Rows of a quantised matrix are whole blocks: any row cut is fine, and mapped.
  auto rows = open(path, sharded(2, 3, "q=rows"));
  ASSERT_TRUE(rows) << rows.error().to_string();
  EXPECT_EQ(rows->find("q")->placement, Placement::kMap);
  EXPECT_EQ(bytes_of(*rows->find("q")), rows_of(full, 4 * 34, 2, 1));
}

TEST(Shard, FixedRangesAndOneDimensionalTensors) {
  TempDir dir;
  Bytes w = test::pattern(10 * 4 * 4, 8), v = test::pattern(12 * 4, 9);
  std::string path = write_st(dir, {{"w", DType::F32, {10, 4}, w}, {"v", DType::F32, {12}, v}});
  for (uint32_t rank = 0; rank < 2; ++rank) {  // a range is the same on every rank
    auto m = open(path, sharded(rank, 2, "w=rows[3:7],v=cols"));
    ASSERT_TRUE(m) << m.error().to_string();
    EXPECT_EQ(bytes_of(*m->find("w")), rows_of(w, 16, 3, 4));
    const Tensor& t = *m->find("v");
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{6}));
    EXPECT_EQ(t.placement, Placement::kMap);  // one dimension: one range
    EXPECT_EQ(bytes_of(t), rows_of(v, 4, rank * 6, 6));
  }
  auto past = open(path, sharded(0, 1, "w=rows[8:11]"));
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message.find("past the dimension's 10"), std::string::npos) << past.error().message;
}

TEST(Shard, ConvertedSlicesHoldTheConvertedValues) {
  TempDir dir;
  std::vector<uint16_t> halves(16 * 32);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(0x3c00 + (i * 37) % 0x0800);  // finite
  Bytes full(halves.size() * 2);
  std::memcpy(full.data(), halves.data(), full.size());
  std::string path = write_st(dir, {{"w", DType::F16, {16, 32}, full}});
  Options o = sharded(1, 4, "w=cols");
  o.type_rules = "*=F32";
  o.staging_bytes = 256;
  auto m = open(path, o);
  ASSERT_TRUE(m) << m.error().to_string();
  const Tensor& t = *m->find("w");
  ASSERT_EQ(t.dtype, DType::F32);
  ASSERT_EQ(t.shape, (std::vector<uint64_t>{16, 8}));
  const float* got = reinterpret_cast<const float*>(t.host_data);
  for (uint64_t r = 0; r < 16; ++r)
    for (uint64_t c = 0; c < 8; ++c)
      ASSERT_EQ(got[r * 8 + c], static_cast<float>(test::half_value(halves[r * 32 + 8 + c]))) << r << "," << c;
}

TEST(Shard, LlamaPresetSplitsProjectionsAndReplicatesNorms) {
  TempDir dir;
  std::string path = write_gguf(dir, {{"token_embd.weight", DType::F32, {5, 8}, test::pattern(5 * 8 * 4, 1)},
                                      {"blk.0.attn_norm.weight", DType::F32, {8}, test::pattern(8 * 4, 2)},
                                      {"blk.0.attn_q.weight", DType::F16, {8, 8}, test::pattern(8 * 8 * 2, 3)},
                                      {"blk.0.attn_output.weight", DType::F16, {8, 8}, test::pattern(8 * 8 * 2, 4)},
                                      {"blk.0.ffn_down.weight", DType::F16, {8, 16}, test::pattern(8 * 16 * 2, 5)}});
  Options o = sharded(1, 2, "llama");
  o.shard.source = "OMPI_COMM_WORLD_RANK";
  auto m = open(path, o);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->find("token_embd.weight")->shape, (std::vector<uint64_t>{3, 8}));  // 5 rows: padded
  EXPECT_EQ(m->find("token_embd.weight")->slice.padded, 1u);
  EXPECT_EQ(m->find("blk.0.attn_norm.weight")->slice.dim, SliceDim::kNone);
  EXPECT_EQ(m->find("blk.0.attn_q.weight")->slice.dim, SliceDim::kRows);
  EXPECT_EQ(m->find("blk.0.attn_output.weight")->slice.dim, SliceDim::kCols);
  EXPECT_EQ(m->find("blk.0.ffn_down.weight")->shape, (std::vector<uint64_t>{8, 8}));
  const ShardReport& s = m->report().shard;
  EXPECT_EQ(s.tensors_rows, 2u);
  EXPECT_EQ(s.tensors_cols, 2u);
  EXPECT_EQ(s.tensors_replicated, 1u);
  EXPECT_NE(s.rules.find("*.attn_q.weight=rows"), std::string::npos);
  EXPECT_EQ(s.source, "OMPI_COMM_WORLD_RANK");  // echoed, for the report
}

TEST(Shard, EmptyAndZeroDimensionalTensors) {
  TempDir dir;
  std::string path = write_gguf(dir, {{"empty", DType::F32, {0, 4}, {}}, {"flat", DType::F32, {4, 0}, {}},
                                      {"w", DType::F32, {2, 4}, test::pattern(32, 1)}});
  for (const char* rules : {"*=rows", "*=cols", "*=rows:pad"}) {
    auto m = open(path, sharded(1, 2, rules));
    ASSERT_TRUE(m) << rules << ": " << m.error().to_string();
    EXPECT_EQ(m->find("empty")->nbytes, 0u) << rules;
    EXPECT_EQ(m->find("flat")->nbytes, 0u) << rules;
  }
  std::string st = write_st(dir, {{"scalar", DType::F32, {}, test::pattern(4, 2)}, {"w", DType::F32, {2, 4},
                                                                                    test::pattern(32, 3)}});
  auto m = open(st, sharded(0, 2, "*=rows"));  // a 0-d tensor has nothing to cut: whole on every rank
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->find("scalar")->slice.dim, SliceDim::kNone);
  EXPECT_EQ(m->report().shard.tensors_replicated, 1u);
}

TEST(Shard, BadRulesRanksAndLoraAreRefused) {
  TempDir dir;
  std::string path = write_st(dir, {{"w", DType::F32, {4, 4}, test::pattern(64, 1)}});
  for (const char* rules : {"w=diagonal", "w=rows[3:1]", "w=rows:zero", "nonsense"}) {
    auto m = open(path, sharded(0, 2, rules));
    ASSERT_FALSE(m) << rules;
    EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument) << rules << ": " << m.error().to_string();
  }
  auto rank = open(path, sharded(2, 2, "w=rows"));
  ASSERT_FALSE(rank);
  EXPECT_NE(rank.error().message.find("rank 2 of world 2"), std::string::npos) << rank.error().message;
  // No rule and one rank: nothing is sliced.
  auto plain = open(path, sharded(0, 1, ""));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->find("w")->slice.dim, SliceDim::kNone);
  // A LoRA is for whole tensors.
  lora_test::Factors f = lora_test::random_factors(4, 4, 1, 11);
  std::string lora_path = dir.file("lora.safetensors");
  lora_test::write_lora_safetensors(lora_path, {{"w", lora_test::Convention::kKohya, &f, {4, 4}}});
  Options o = sharded(0, 2, "w=rows");
  o.loras = {{lora_path, 1.0f}};
  auto with_lora = open(path, o);
  ASSERT_FALSE(with_lora);
  EXPECT_NE(with_lora.error().message.find("tensor-parallel slice"), std::string::npos) << with_lora.error().message;
}

}  // namespace
}  // namespace wm
