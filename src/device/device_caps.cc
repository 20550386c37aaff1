#include "device/device_caps.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace wm {

bool DeviceCaps::accepts(DType t) const {
  return dtypes.empty() || std::find(dtypes.begin(), dtypes.end(), t) != dtypes.end();
}

uint32_t DeviceCaps::required_alignment(DType t) const {
  const DTypeInfo& info = dtype_info(t);
  // Scalars align to their size (at most 8); quantised blocks start with an
  // F16 scale (Q8_K with an F32 one); packed sub-byte types need nothing.
  uint32_t natural = info.packing == Packing::kScalar ? std::min<uint32_t>(info.block_bytes, 8)
                     : info.packing == Packing::kSubByte ? 1
                     : t == DType::Q8_K                  ? 4
                     : t == DType::MXFP4                 ? 1
                                                         : 2;
  return std::max(alignment, natural);
}

DeviceCaps cpu_device_caps() { return {"cpu", true, 1, {}}; }

DeviceCaps sim_device_caps() { return {"sim", false, 256, {}}; }

std::string cuda_device_name(int ordinal) { return ordinal == 0 ? "cuda" : fmt::format("cuda:{}", ordinal); }

std::optional<int> cuda_ordinal(std::string_view name) {
  if (name == "cuda") return 0;
  constexpr std::string_view prefix = "cuda:";
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  int n = 0;
  auto [end, ec] = std::from_chars(name.data() + prefix.size(), name.data() + name.size(), n);
  if (ec != std::errc() || end != name.data() + name.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace wm
