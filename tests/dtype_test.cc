// The type table and tensor_nbytes(), checked against ggml's type traits and
// block struct layouts (ggml-common.h, QK_K = 256) and the safetensors spec,
// written down here independently of src/dtype/dtype.cc.
#include "dtype/dtype.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace wm {
namespace {

__extension__ typedef unsigned __int128 u128;

struct GgmlType {
  uint32_t id;
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
};

// ggml_type ids with the sizes of their block structs. fp16 = 2 bytes.
const std::vector<GgmlType>& ggml_types() {
  static const std::vector<GgmlType> types{
      {0, "F32", 1, 4},
      {1, "F16", 1, 2},
      {2, "Q4_0", 32, 2 + 32 / 2},               // d, qs[16]
      {3, "Q4_1", 32, 2 + 2 + 32 / 2},           // d, m, qs[16]
      {6, "Q5_0", 32, 2 + 4 + 32 / 2},           // d, qh[4], qs[16]
      {7, "Q5_1", 32, 2 + 2 + 4 + 32 / 2},       // d, m, qh[4], qs[16]
      {8, "Q8_0", 32, 2 + 32},                   // d, qs[32]
      {9, "Q8_1", 32, 2 + 2 + 32},               // d, s, qs[32]
      {10, "Q2_K", 256, 16 + 64 + 2 + 2},        // scales[16], qs[64], d, dmin
      {11, "Q3_K", 256, 32 + 64 + 12 + 2},       // hmask[32], qs[64], scales[12], d
      {12, "Q4_K", 256, 2 + 2 + 12 + 128},       // d, dmin, scales[12], qs[128]
      {13, "Q5_K", 256, 2 + 2 + 12 + 32 + 128},  // d, dmin, scales[12], qh[32], qs[128]
      {14, "Q6_K", 256, 128 + 64 + 16 + 2},      // ql[128], qh[64], scales[16], d
      {15, "Q8_K", 256, 4 + 256 + 2 * 16},       // float d, qs[256], int16 bsums[16]
      {16, "IQ2_XXS", 256, 2 + 2 * 32},          // d, uint16 qs[32]
      {17, "IQ2_XS", 256, 2 + 2 * 32 + 8},       // d, uint16 qs[32], scales[8]
      {18, "IQ3_XXS", 256, 2 + 3 * 256 / 8},     // d, qs[96]
      {19, "IQ1_S", 256, 2 + 32 + 2 * 8},        // d, qs[32], uint16 qh[8]
      {20, "IQ4_NL", 32, 2 + 16},                // d, qs[16]
      {21, "IQ3_S", 256, 2 + 64 + 8 + 32 + 4},   // d, qs[64], qh[8], signs[32], scales[4]
      {22, "IQ2_S", 256, 2 + 64 + 8 + 8},        // d, qs[64], qh[8], scales[8]
      {23, "IQ4_XS", 256, 2 + 2 + 4 + 128},      // d, scales_h, scales_l[4], qs[128]
      {24, "I8", 1, 1},
      {25, "I16", 1, 2},
      {26, "I32", 1, 4},
      {27, "I64", 1, 8},
      {28, "F64", 1, 8},
      {29, "IQ1_M", 256, 32 + 16 + 8},             // qs[32], qh[16], scales[8]
      {30, "BF16", 1, 2},
      {34, "TQ1_0", 256, (256 - 4 * 256 / 64) / 5 + 256 / 64 + 2},  // qs[48], qh[4], d
      {35, "TQ2_0", 256, 256 / 4 + 2},                              // qs[64], d
      {39, "MXFP4", 32, 1 + 32 / 2},                                // e, qs[16]
  };
  return types;
}

const std::set<uint32_t> kRemovedIds{4, 5, 31, 32, 33, 36, 37, 38};

std::vector<DType> all_dtypes() {
  std::vector<DType> out;
  for (size_t k = 0; k < static_cast<size_t>(DType::kCount); ++k) out.push_back(static_cast<DType>(k));
  return out;
}

TEST(DtypeTable, RowsDescribeTheirOwnDtype) {
  for (DType t : all_dtypes()) {
    const DTypeInfo& info = dtype_info(t);
    EXPECT_EQ(info.dtype, t) << static_cast<int>(t);
    ASSERT_NE(info.name, nullptr);
    EXPECT_STREQ(dtype_name(t), info.name);
    EXPECT_GE(info.block_elems, 1u) << info.name;
    EXPECT_GE(info.block_bytes, 1u) << info.name;
    if (info.packing == Packing::kScalar) {
      EXPECT_EQ(info.block_elems, 1u) << info.name;
    }
  }
}

TEST(DtypeTable, NamesAreUniqueAndFoundByName) {
  std::set<std::string> names;
  for (DType t : all_dtypes()) {
    EXPECT_TRUE(names.insert(dtype_name(t)).second) << "duplicate name " << dtype_name(t);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t) << dtype_name(t);
  }
  EXPECT_EQ(dtype_from_name(""), std::nullopt);
  EXPECT_EQ(dtype_from_name("q4_0"), std::nullopt);  // spellings are exact
  EXPECT_EQ(dtype_from_name("F32 "), std::nullopt);
}

TEST(DtypeTable, EveryGgmlTypeMatchesGgmlTraits) {
  for (const GgmlType& g : ggml_types()) {
    SCOPED_TRACE(g.name);
    auto t = dtype_from_gguf_id(g.id);
    ASSERT_TRUE(t.has_value());
    const DTypeInfo& info = dtype_info(*t);
    EXPECT_STREQ(info.name, g.name);
    EXPECT_EQ(info.gguf_id, static_cast<int32_t>(g.id));
    EXPECT_EQ(info.block_elems, g.block_elems);
    EXPECT_EQ(info.block_bytes, g.block_bytes);
    EXPECT_EQ(info.packing, g.block_elems == 1 ? Packing::kScalar : Packing::kRowBlock);
    EXPECT_EQ(removed_gguf_type_reason(g.id), nullptr);
  }
}

TEST(DtypeTable, SpotCheckBlockLayouts) {
  // The figures from the brief, spelled out literally.
  struct {
    DType t;
    uint32_t elems, bytes;
  } cases[] = {{DType::Q4_0, 32, 18},   {DType::Q8_0, 32, 34},  {DType::Q2_K, 256, 84},
               {DType::Q6_K, 256, 210}, {DType::IQ4_XS, 256, 136}, {DType::TQ1_0, 256, 54},
               {DType::MXFP4, 32, 17},  {DType::Q8_K, 256, 292}, {DType::IQ1_M, 256, 56}};
  for (const auto& c : cases) {
    EXPECT_EQ(dtype_info(c.t).block_elems, c.elems) << dtype_name(c.t);
    EXPECT_EQ(dtype_info(c.t).block_bytes, c.bytes) << dtype_name(c.t);
  }
}

TEST(DtypeTable, EveryGgufDtypeRoundTripsThroughItsId) {
  std::set<int32_t> ids;
  size_t with_id = 0;
  for (DType t : all_dtypes()) {
    const DTypeInfo& info = dtype_info(t);
    if (info.gguf_id < 0) continue;
    ++with_id;
    EXPECT_TRUE(ids.insert(info.gguf_id).second) << "id " << info.gguf_id << " used twice";
    EXPECT_EQ(dtype_from_gguf_id(static_cast<uint32_t>(info.gguf_id)), t) << info.name;
  }
  // Exactly the ggml types listed above carry an id.
  EXPECT_EQ(with_id, ggml_types().size());
}

TEST(DtypeTable, EveryIdUpTo4096IsKnownRemovedOrUnknown) {
  std::set<uint32_t> known;
  for (const GgmlType& g : ggml_types()) known.insert(g.id);
  for (uint32_t id = 0; id < 4096; ++id) {
    SCOPED_TRACE(id);
    auto t = dtype_from_gguf_id(id);
    if (known.count(id)) {
      ASSERT_TRUE(t.has_value());
      EXPECT_EQ(dtype_info(*t).gguf_id, static_cast<int32_t>(id));
    } else {
      EXPECT_EQ(t, std::nullopt);
      EXPECT_EQ(removed_gguf_type_reason(id) != nullptr, kRemovedIds.count(id) == 1);
    }
  }
  for (uint32_t id : {0x7fffffffu, 0x80000000u, 0xffffffffu}) {
    EXPECT_EQ(dtype_from_gguf_id(id), std::nullopt) << id;
    EXPECT_EQ(removed_gguf_type_reason(id), nullptr) << id;
  }
}

TEST(DtypeTable, RemovedIdsNameTheRemovedType) {
  const std::pair<uint32_t, const char*> cases[] = {{4, "Q4_2"},      {5, "Q4_3"},       {31, "Q4_0_4_4"},
                                                    {32, "Q4_0_4_8"},  {33, "Q4_0_8_8"},  {36, "IQ4_NL_4_4"},
                                                    {37, "IQ4_NL_4_8"}, {38, "IQ4_NL_8_8"}};
  for (const auto& [id, name] : cases) {
    const char* reason = removed_gguf_type_reason(id);
    ASSERT_NE(reason, nullptr) << id;
    EXPECT_NE(std::string(reason).find(name), std::string::npos) << reason;
    EXPECT_NE(std::string(reason).find("removed"), std::string::npos) << reason;
  }
}

TEST(DtypeTable, SafetensorsNames) {
  // The safetensors spec's dtype names, each with its element size in bits.
  struct {
    const char* name;
    uint32_t bits;
  } spec[] = {{"BOOL", 8},    {"U8", 8},      {"I8", 8},        {"F8_E5M2", 8},   {"F8_E4M3", 8},
              {"F8_E8M0", 8}, {"I16", 16},    {"U16", 16},      {"F16", 16},      {"BF16", 16},
              {"I32", 32},    {"U32", 32},    {"F32", 32},      {"F64", 64},      {"I64", 64},
              {"U64", 64},    {"C64", 64},    {"F6_E2M3", 6},   {"F6_E3M2", 6},   {"F4", 4}};
  size_t in_spec = 0;
  for (const auto& s : spec) {
    SCOPED_TRACE(s.name);
    auto t = dtype_from_safetensors_name(s.name);
    ASSERT_TRUE(t.has_value());
    const DTypeInfo& info = dtype_info(*t);
    EXPECT_STREQ(info.name, s.name);
    EXPECT_TRUE(info.in_safetensors);
    EXPECT_EQ(uint64_t{info.block_bytes} * 8, uint64_t{info.block_elems} * s.bits);
    EXPECT_EQ(info.packing, s.bits < 8 ? Packing::kSubByte : Packing::kScalar);
  }
  for (DType t : all_dtypes()) in_spec += dtype_info(t).in_safetensors;
  EXPECT_EQ(in_spec, std::size(spec));
  // GGUF-only quantisations are not safetensors dtypes.
  for (const char* name : {"Q4_0", "Q8_0", "Q6_K", "MXFP4", "TQ1_0", "", "f32", "FLOAT"})
    EXPECT_EQ(dtype_from_safetensors_name(name), std::nullopt) << name;
}

TEST(DtypeElementCount, Basics) {
  const std::vector<uint64_t> empty;
  EXPECT_EQ(element_count(empty), 1u);
  EXPECT_EQ(element_count(std::vector<uint64_t>{7}), 7u);
  EXPECT_EQ(element_count(std::vector<uint64_t>{2, 3, 5, 7}), 210u);
  EXPECT_EQ(element_count(std::vector<uint64_t>{4, 0, 9}), 0u);
  EXPECT_EQ(element_count(std::vector<uint64_t>{uint64_t{1} << 31, uint64_t{1} << 31}), uint64_t{1} << 62);
  EXPECT_EQ(element_count(std::vector<uint64_t>{uint64_t{1} << 31, uint64_t{1} << 32}), std::nullopt);
  EXPECT_EQ(element_count(std::vector<uint64_t>{uint64_t{1} << 32, uint64_t{1} << 32}), std::nullopt);
  EXPECT_EQ(element_count(std::vector<uint64_t>{UINT64_MAX}), std::nullopt);
  EXPECT_EQ(element_count(std::vector<uint64_t>{3, UINT64_MAX / 2}), std::nullopt);
}

TEST(DtypeElementCount, DoesNotDependOnTheOrderOfDimensions) {
  const std::vector<std::vector<uint64_t>> shapes{
      {0, UINT64_MAX}, {0, uint64_t{1} << 63}, {0, uint64_t{1} << 40, uint64_t{1} << 40}, {3, 0, 1u << 31}};
  for (auto shape : shapes) {
    auto first = element_count(shape);
    std::sort(shape.begin(), shape.end());
    do {
      EXPECT_EQ(element_count(shape), first) << shape[0] << "," << shape[1];
    } while (std::next_permutation(shape.begin(), shape.end()));
  }
}

TEST(DtypeTensorNbytes, ScalarTypes) {
  EXPECT_EQ(tensor_nbytes(DType::F32, std::vector<uint64_t>{3, 5}).nbytes, 60u);
  EXPECT_EQ(tensor_nbytes(DType::F16, std::vector<uint64_t>{7}).nbytes, 14u);
  EXPECT_EQ(tensor_nbytes(DType::BF16, std::vector<uint64_t>{2, 2, 2}).nbytes, 16u);
  EXPECT_EQ(tensor_nbytes(DType::I64, std::vector<uint64_t>{2, 3, 4, 5}).nbytes, 960u);
  EXPECT_EQ(tensor_nbytes(DType::C64, std::vector<uint64_t>{3}).nbytes, 24u);
  EXPECT_EQ(tensor_nbytes(DType::F8_E4M3, std::vector<uint64_t>{9, 1}).nbytes, 9u);
  // No dimensions: one element.
  EXPECT_EQ(tensor_nbytes(DType::F32, std::vector<uint64_t>{}).nbytes, 4u);
  EXPECT_EQ(tensor_nbytes(DType::F64, std::vector<uint64_t>{}).nbytes, 8u);
  auto ok = tensor_nbytes(DType::F32, std::vector<uint64_t>{3});
  EXPECT_TRUE(ok.reason.empty());
}

TEST(DtypeTensorNbytes, RowBlockTypes) {
  EXPECT_EQ(tensor_nbytes(DType::Q4_0, std::vector<uint64_t>{4, 64}).nbytes, 4u * 2 * 18);
  EXPECT_EQ(tensor_nbytes(DType::Q4_0, std::vector<uint64_t>{3, 32}).nbytes, 3u * 18);  // odd outer dims are fine
  EXPECT_EQ(tensor_nbytes(DType::Q8_0, std::vector<uint64_t>{96}).nbytes, 3u * 34);
  EXPECT_EQ(tensor_nbytes(DType::Q6_K, std::vector<uint64_t>{2, 512}).nbytes, 2u * 2 * 210);
  EXPECT_EQ(tensor_nbytes(DType::MXFP4, std::vector<uint64_t>{5, 3, 64}).nbytes, 5u * 3 * 2 * 17);
  EXPECT_EQ(tensor_nbytes(DType::TQ1_0, std::vector<uint64_t>{1, 1, 1, 256}).nbytes, 54u);

  for (auto shape : std::vector<std::vector<uint64_t>>{{64, 48}, {31}, {2, 16}, {256, 33}, {1}, {}}) {
    auto r = tensor_nbytes(DType::Q4_0, shape);
    EXPECT_FALSE(r.nbytes.has_value()) << r.nbytes.value_or(0);
    EXPECT_NE(r.reason.find("multiple"), std::string::npos) << r.reason;
  }
  // A row of 32 elements is not enough for a 256-element K-quant block.
  auto k = tensor_nbytes(DType::Q4_K, std::vector<uint64_t>{8, 32});
  EXPECT_FALSE(k.nbytes.has_value());
  EXPECT_NE(k.reason.find("32"), std::string::npos) << k.reason;
  EXPECT_NE(k.reason.find("256"), std::string::npos) << k.reason;
}

TEST(DtypeTensorNbytes, SubByteTypes) {
  EXPECT_EQ(tensor_nbytes(DType::F4, std::vector<uint64_t>{3, 4}).nbytes, 6u);
  EXPECT_EQ(tensor_nbytes(DType::F4, std::vector<uint64_t>{3, 2}).nbytes, 3u);  // packed across rows
  EXPECT_EQ(tensor_nbytes(DType::F6_E2M3, std::vector<uint64_t>{8}).nbytes, 6u);
  EXPECT_EQ(tensor_nbytes(DType::F6_E3M2, std::vector<uint64_t>{2, 6}).nbytes, 9u);
  for (auto [t, shape] : std::vector<std::pair<DType, std::vector<uint64_t>>>{
           {DType::F4, {3, 5}}, {DType::F4, {1}}, {DType::F6_E2M3, {6}}, {DType::F6_E3M2, {3, 3}}, {DType::F4, {}}}) {
    auto r = tensor_nbytes(t, shape);
    EXPECT_FALSE(r.nbytes.has_value()) << dtype_name(t);
    EXPECT_NE(r.reason.find("whole bytes"), std::string::npos) << r.reason;
  }
}

TEST(DtypeTensorNbytes, ZeroSizedDimensions) {
  EXPECT_EQ(tensor_nbytes(DType::F32, std::vector<uint64_t>{0, 5}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::F32, std::vector<uint64_t>{0}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::Q4_0, std::vector<uint64_t>{0, 32}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::Q4_0, std::vector<uint64_t>{5, 0}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::Q6_K, std::vector<uint64_t>{7, 0, 256}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::F4, std::vector<uint64_t>{0}).nbytes, 0u);
  EXPECT_EQ(tensor_nbytes(DType::F6_E2M3, std::vector<uint64_t>{3, 0}).nbytes, 0u);
}

TEST(DtypeTensorNbytes, HugeShapesGiveAReason) {
  const uint64_t p31 = uint64_t{1} << 31, p32 = uint64_t{1} << 32, p62 = uint64_t{1} << 62;
  const std::vector<std::pair<DType, std::vector<uint64_t>>> cases{
      {DType::F32, {p32, p32}},           // 2^64 elements
      {DType::F32, {p31, p31}},           // 2^62 elements, 2^64 bytes
      {DType::F64, {p62}},                // 2^65 bytes
      {DType::I8, {UINT64_MAX}},          //
      {DType::I8, {UINT64_MAX, 0}},       // a zero elsewhere does not excuse a huge dimension
      {DType::I8, {0, UINT64_MAX}},       //
      {DType::Q4_0, {p32, p32, 32}},      // 2^69 elements
      {DType::Q8_K, {UINT64_MAX / 256 + 1, 256}},
      {DType::F4, {p32, p32, 2}},         //
      {DType::C64, {3, p31, p31}},        //
      {DType::F32, {0xffffffffffffffe0ull, 32}},
  };
  for (const auto& [t, shape] : cases) {
    auto r = tensor_nbytes(t, shape);
    EXPECT_FALSE(r.nbytes.has_value()) << dtype_name(t) << " " << *r.nbytes;
    EXPECT_FALSE(r.reason.empty()) << dtype_name(t);
  }
}

// Exact sizes in 128-bit arithmetic; tensor_nbytes() must agree wherever the
// size is small, refuse wherever it does not fit 64 bits, and never be wrong.
TEST(DtypeTensorNbytes, AgreesWithExactArithmeticOnRandomShapes) {
  std::mt19937_64 rng(12345);
  for (int iter = 0; iter < 200000; ++iter) {
    DType t = static_cast<DType>(rng() % static_cast<size_t>(DType::kCount));
    const DTypeInfo& info = dtype_info(t);
    size_t rank = rng() % 5;
    std::vector<uint64_t> shape(rank);
    for (auto& d : shape) {
      switch (rng() % 4) {
        case 0: d = rng() % 5; break;
        case 1: d = (rng() % 8) * info.block_elems; break;
        case 2: d = uint64_t{1} << (rng() % 34); break;
        default: d = rng() >> (rng() % 64); break;
      }
    }
    // Exact element count, saturating at 2^127 (dimensions are < 2^64).
    u128 n = 1;
    bool zero = false, huge = false;
    for (uint64_t d : shape) {
      if (d == 0) zero = true;
      if (d > (uint64_t{1} << 62)) huge = true;
    }
    for (uint64_t d : shape) {
      if (zero) break;
      if (n > (u128{1} << 127) / d) {
        n = u128{1} << 127;
        break;
      }
      n *= d;
    }
    if (zero) n = 0;
    std::optional<u128> exact;  // nullopt: the shape is illegal for the dtype
    if (info.packing == Packing::kScalar) {
      exact = n * info.block_bytes;
    } else if (info.packing == Packing::kRowBlock) {
      uint64_t row = shape.empty() ? 1 : shape.back();
      if (row % info.block_elems == 0) exact = n / info.block_elems * info.block_bytes;
    } else if (n % info.block_elems == 0) {
      exact = n / info.block_elems * info.block_bytes;
    }
    auto r = tensor_nbytes(t, shape);
    std::string where = fmt::format("{} rank {}:", dtype_name(t), rank);
    for (uint64_t d : shape) where += fmt::format(" {}", d);
    if (r.nbytes) {
      ASSERT_TRUE(exact.has_value()) << where;
      ASSERT_EQ(u128{*r.nbytes}, *exact) << where;
      ASSERT_FALSE(huge) << where;
    } else {
      ASSERT_FALSE(r.reason.empty()) << where;
      // Refusing a legal shape is only allowed when it is enormous: beyond
      // 2^62 elements (the documented limit) or 2^60 bytes.
      if (exact && !huge && n <= (u128{1} << 62)) {
        ASSERT_GT(*exact, u128{1} << 60) << where;
      }
    }
  }
}

}  // namespace
}  // namespace wm
