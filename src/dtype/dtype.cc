#include "dtype/dtype.h"

#include "dtype/block_codec.h"

#include <array>
#include <fmt/format.h>

namespace wm {
namespace {

constexpr Packing S = Packing::kScalar;
constexpr Packing R = Packing::kRowBlock;
constexpr Packing B = Packing::kSubByte;

// Block layouts follow ggml's type traits (QK_K = 256) and the safetensors spec;
// the last column is the type's block codec (dtype/block_codec.h), if any.
constexpr std::array<DTypeInfo, static_cast<size_t>(DType::kCount)> kTable{{
    {DType::F32, "F32", 0, true, 1, 4, S, true, &kCodecF32},
    {DType::F16, "F16", 1, true, 1, 2, S, true, &kCodecF16},
    {DType::BF16, "BF16", 30, true, 1, 2, S, true, &kCodecBF16},
    {DType::F64, "F64", 28, true, 1, 8, S, true},
    {DType::I8, "I8", 24, true, 1, 1, S, false},
    {DType::I16, "I16", 25, true, 1, 2, S, false},
    {DType::I32, "I32", 26, true, 1, 4, S, false},
    {DType::I64, "I64", 27, true, 1, 8, S, false},
    {DType::BOOL, "BOOL", -1, true, 1, 1, S, false},
    {DType::U8, "U8", -1, true, 1, 1, S, false},
    {DType::U16, "U16", -1, true, 1, 2, S, false},
    {DType::U32, "U32", -1, true, 1, 4, S, false},
    {DType::U64, "U64", -1, true, 1, 8, S, false},
    {DType::C64, "C64", -1, true, 1, 8, S, true},
    {DType::F8_E4M3, "F8_E4M3", -1, true, 1, 1, S, true},
    {DType::F8_E5M2, "F8_E5M2", -1, true, 1, 1, S, true},
    {DType::F8_E8M0, "F8_E8M0", -1, true, 1, 1, S, true},
    {DType::F6_E2M3, "F6_E2M3", -1, true, 4, 3, B, true},
    {DType::F6_E3M2, "F6_E3M2", -1, true, 4, 3, B, true},
    {DType::F4, "F4", -1, true, 2, 1, B, true},
    {DType::Q4_0, "Q4_0", 2, false, 32, 18, R, true, &kCodecQ4_0},
    {DType::Q4_1, "Q4_1", 3, false, 32, 20, R, true, &kCodecQ4_1},
    {DType::Q5_0, "Q5_0", 6, false, 32, 22, R, true, &kCodecQ5_0},
    {DType::Q5_1, "Q5_1", 7, false, 32, 24, R, true, &kCodecQ5_1},
    {DType::Q8_0, "Q8_0", 8, false, 32, 34, R, true, &kCodecQ8_0},
    {DType::Q8_1, "Q8_1", 9, false, 32, 36, R, true, &kCodecQ8_1},
    {DType::Q2_K, "Q2_K", 10, false, 256, 84, R, true, &kCodecQ2_K},
    {DType::Q3_K, "Q3_K", 11, false, 256, 110, R, true, &kCodecQ3_K},
    {DType::Q4_K, "Q4_K", 12, false, 256, 144, R, true, &kCodecQ4_K},
    {DType::Q5_K, "Q5_K", 13, false, 256, 176, R, true, &kCodecQ5_K},
    {DType::Q6_K, "Q6_K", 14, false, 256, 210, R, true, &kCodecQ6_K},
    {DType::Q8_K, "Q8_K", 15, false, 256, 292, R, true, &kCodecQ8_K},
    {DType::IQ2_XXS, "IQ2_XXS", 16, false, 256, 66, R, true},
    {DType::IQ2_XS, "IQ2_XS", 17, false, 256, 74, R, true},
    {DType::IQ3_XXS, "IQ3_XXS", 18, false, 256, 98, R, true},
    {DType::IQ1_S, "IQ1_S", 19, false, 256, 50, R, true},
    {DType::IQ4_NL, "IQ4_NL", 20, false, 32, 18, R, true, &kCodecIQ4_NL},
    {DType::IQ3_S, "IQ3_S", 21, false, 256, 110, R, true},
    {DType::IQ2_S, "IQ2_S", 22, false, 256, 82, R, true},
    {DType::IQ4_XS, "IQ4_XS", 23, false, 256, 136, R, true, &kCodecIQ4_XS},
    {DType::IQ1_M, "IQ1_M", 29, false, 256, 56, R, true},
    {DType::TQ1_0, "TQ1_0", 34, false, 256, 54, R, true, &kCodecTQ1_0},
    {DType::TQ2_0, "TQ2_0", 35, false, 256, 66, R, true, &kCodecTQ2_0},
    {DType::MXFP4, "MXFP4", 39, false, 32, 17, R, true, &kCodecMXFP4},
}};

constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<size_t>(kTable[i].dtype) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kTable rows must follow the DType enum");

constexpr uint64_t kMaxElements = uint64_t{1} << 62;

}  // namespace

const DTypeInfo& dtype_info(DType t) { return kTable.at(static_cast<size_t>(t)); }

const BlockCodec* block_codec(DType t) { return dtype_info(t).codec; }

std::optional<DType> dtype_from_gguf_id(uint32_t id) {
  for (const auto& row : kTable)
    if (row.gguf_id >= 0 && static_cast<uint32_t>(row.gguf_id) == id) return row.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& row : kTable)
    if (row.in_safetensors && name == row.name) return row.dtype;
  return std::nullopt;
}

const char* dtype_name(DType t) { return dtype_info(t).name; }
int32_t dtype_gguf_id(DType t) { return dtype_info(t).gguf_id; }
uint32_t dtype_block_elems(DType t) { return dtype_info(t).block_elems; }
uint32_t dtype_block_bytes(DType t) { return dtype_info(t).block_bytes; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& row : kTable)
    if (name == row.name) return row.dtype;
  return std::nullopt;
}

const char* removed_gguf_type_reason(uint32_t id) {
  switch (id) {
    case 4: return "Q4_2 was removed from ggml";
    case 5: return "Q4_3 was removed from ggml";
    case 31: case 32: case 33:
      return "Q4_0_4_4/Q4_0_4_8/Q4_0_8_8 were removed from ggml (repacked at run time now)";
    case 36: case 37: case 38:
      return "IQ4_NL_4_4/IQ4_NL_4_8/IQ4_NL_8_8 were removed from ggml (repacked at run time now)";
    default: return nullptr;
  }
}

std::optional<uint64_t> element_count(std::span<const uint64_t> shape) {
  // A dimension beyond the limit is an overflow wherever it stands, even
  // beside a zero dimension: the answer must not depend on the order.
  bool has_zero = false;
  for (uint64_t d : shape) {
    if (d > kMaxElements) return std::nullopt;
    has_zero = has_zero || d == 0;
  }
  if (has_zero) return 0;
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (n > kMaxElements / d) return std::nullopt;
    n *= d;
  }
  return n;
}

SizeOrReason tensor_nbytes(DType t, std::span<const uint64_t> shape) {
  const DTypeInfo& info = dtype_info(t);
  // Name the dimension that is too large (element_count() only says nullopt).
  for (uint64_t d : shape)
    if (d > kMaxElements) return {std::nullopt, fmt::format("dimension {} is too large", d)};
  auto n = element_count(shape);
  if (!n) return {std::nullopt, "element count overflows 2^62"};
  switch (info.packing) {
    case Packing::kScalar:
      if (*n > kMaxElements / info.block_bytes) return {std::nullopt, "byte size overflows"};
      return {*n * info.block_bytes, {}};
    case Packing::kRowBlock: {
      uint64_t row = shape.empty() ? 1 : shape.back();
      if (row % info.block_elems != 0)
        return {std::nullopt, fmt::format("innermost dimension {} is not a multiple of the {} block size {}",
                                          row, info.name, info.block_elems)};
      return {*n / info.block_elems * info.block_bytes, {}};
    }
    case Packing::kSubByte:
      if (*n % info.block_elems != 0)
        return {std::nullopt, fmt::format("{} elements of {} do not fill whole bytes", *n, info.name)};
      return {*n / info.block_elems * info.block_bytes, {}};
  }
  return {std::nullopt, "unknown packing"};
}

}  // namespace wm
