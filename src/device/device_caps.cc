#include "device/device_caps.h"

#include <algorithm>

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

}  // namespace wm
