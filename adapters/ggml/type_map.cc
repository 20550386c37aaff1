// weightmap dtypes as ggml types: the type table's GGUF ids are ggml_type
// values, so this is a lookup with a range check, not a second table.
#include <string>

#include "weightmap/ggml.hpp"

namespace wm::ggml {

Result<ggml_type> type_of(DType dtype) {
  const int32_t id = dtype_gguf_id(dtype);
  if (id < 0 || id >= GGML_TYPE_COUNT || ggml_type_size(static_cast<ggml_type>(id)) == 0) {
    return Error{{}, {}, {}, std::string("dtype ") + dtype_name(dtype) +
                     " has no ggml type (convert it when loading, e.g. a dtype rule '*=F16')",
                 ErrorCode::kUnsupported};
  }
  const auto type = static_cast<ggml_type>(id);
  // Same block geometry, or the ids disagree (a ggml version with other ids).
  if (ggml_blck_size(type) != static_cast<int64_t>(dtype_block_elems(dtype)) ||
      ggml_type_size(type) != dtype_block_bytes(dtype)) {
    return Error{{}, {}, {}, std::string("dtype ") + dtype_name(dtype) + " is ggml type " + ggml_type_name(type) +
                     " by id, but their block sizes differ (an unsupported ggml version?)",
                 ErrorCode::kUnsupported};
  }
  return type;
}

const char* backing_name(Backing b) {
  switch (b) {
    case Backing::kMapped: return "mapped";
    case Backing::kHostCopy: return "host copy";
    case Backing::kDevice: return "device";
  }
  return "?";
}

}  // namespace wm::ggml
