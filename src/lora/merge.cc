#include "lora/merge.h"

#include <string>
#include <vector>

#include "dtype/block_codec.h"

namespace wm {

bool lora_can_patch(DType t) {
  const BlockCodec* codec = block_codec(t);
  return codec && codec->dequantize && codec->quantize;
}

std::string lora_patchable_dtypes() {
  std::string names;
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i) {
    const auto t = static_cast<DType>(i);
    if (!lora_can_patch(t)) continue;
    if (!names.empty()) names += ", ";
    names += dtype_name(t);
  }
  return names;
}

void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms) {
  std::vector<float> row(cols);
  add_lora_delta(t, data, rows, cols, terms, row);
}

void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms,
                    std::span<float> row) {
  const DTypeInfo& info = dtype_info(t);
  const BlockCodec& codec = *block_codec(t);
  const uint64_t blocks_per_row = cols / info.block_elems;
  const uint64_t row_bytes = blocks_per_row * info.block_bytes;
  for (uint64_t i = 0; i < rows; ++i) {
    std::byte* p = data + i * row_bytes;
    codec.dequantize(p, row.data(), blocks_per_row);
    for (const LoraTerm& term : terms) {
      const float* up = term.up.data() + i * term.rank;
      for (uint32_t k = 0; k < term.rank; ++k) {
        const float c = term.scale * up[k];
        const float* down = term.down.data() + k * cols;
        for (uint64_t j = 0; j < cols; ++j) row[j] += c * down[j];
      }
    }
    codec.quantize(row.data(), p, blocks_per_row);
  }
}

}  // namespace wm
