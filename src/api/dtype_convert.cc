// The public face of the conversion kernels (weightmap/dtype.hpp).
#include <fmt/format.h>

#include <string>
#include <utility>

#include "dtype/convert.h"
#include "weightmap/dtype.hpp"

namespace wm {
namespace {

Error error(std::string message, ErrorCode code) {
  Error e;
  e.message = std::move(message);
  e.code = code;
  return e;
}

}  // namespace

bool dtype_can_convert(DType from, DType to) { return can_convert(from, to); }

Status dtype_convert(DType from, DType to, const void* src, uint64_t elements, void* dst) {
  if (!can_convert(from, to))
    return error(fmt::format("no conversion from {} to {}", dtype_name(from), dtype_name(to)),
                 ErrorCode::kUnsupported);
  const uint32_t block = dtype_block_elems(from);
  if (elements % block != 0 || elements % dtype_block_elems(to) != 0)
    return error(fmt::format("{} elements are not whole blocks of {} ({} per block) and {} ({})", elements,
                             dtype_name(from), block, dtype_name(to), dtype_block_elems(to)),
                 ErrorCode::kInvalidArgument);
  const uint64_t out_of_range =
      convert(from, to, static_cast<const std::byte*>(src), static_cast<std::byte*>(dst), elements);
  if (out_of_range != 0)
    return error(fmt::format("{} of {} values do not fit {}", out_of_range, elements, dtype_name(to)),
                 ErrorCode::kBadFormat);
  return {};
}

}  // namespace wm
