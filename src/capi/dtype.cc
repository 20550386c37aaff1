// Element-type helpers over wm::DType, and wm_dtype_convert.
#include <fmt/format.h>

#include "capi/capi.h"
#include "weightmap/dtype.hpp"

using wm::capi::fail;
using wm::capi::guarded;

namespace {

// wm_dtype repeats wm::DType's order.
static_assert(WM_DTYPE_F32 == static_cast<int>(wm::DType::F32));
static_assert(WM_DTYPE_I64 == static_cast<int>(wm::DType::I64));
static_assert(WM_DTYPE_BOOL == static_cast<int>(wm::DType::BOOL));
static_assert(WM_DTYPE_C64 == static_cast<int>(wm::DType::C64));
static_assert(WM_DTYPE_F8_E4M3 == static_cast<int>(wm::DType::F8_E4M3));
static_assert(WM_DTYPE_F4 == static_cast<int>(wm::DType::F4));
static_assert(WM_DTYPE_Q4_0 == static_cast<int>(wm::DType::Q4_0));
static_assert(WM_DTYPE_Q8_1 == static_cast<int>(wm::DType::Q8_1));
static_assert(WM_DTYPE_Q2_K == static_cast<int>(wm::DType::Q2_K));
static_assert(WM_DTYPE_Q8_K == static_cast<int>(wm::DType::Q8_K));
static_assert(WM_DTYPE_IQ2_XXS == static_cast<int>(wm::DType::IQ2_XXS));
static_assert(WM_DTYPE_IQ1_M == static_cast<int>(wm::DType::IQ1_M));
static_assert(WM_DTYPE_TQ1_0 == static_cast<int>(wm::DType::TQ1_0));
static_assert(WM_DTYPE_MXFP4 == static_cast<int>(wm::DType::MXFP4));
static_assert(WM_DTYPE_COUNT == static_cast<int>(wm::DType::kCount));

bool valid(wm_dtype t) { return t >= 0 && t < WM_DTYPE_COUNT; }
wm::DType cpp(wm_dtype t) { return static_cast<wm::DType>(t); }

}  // namespace

extern "C" {

const char* wm_dtype_name(wm_dtype type) { return valid(type) ? wm::dtype_name(cpp(type)) : nullptr; }

wm_status wm_dtype_from_name(const char* name, wm_dtype* type) {
  return guarded([&] {
    if (!name) return wm::capi::null_argument("wm_dtype_from_name", "name");
    if (!type) return wm::capi::null_argument("wm_dtype_from_name", "type");
    auto t = wm::dtype_from_name(name);
    if (!t) return fail(WM_ERR_NOT_FOUND, fmt::format("'{}' is not a dtype weightmap knows", name));
    *type = static_cast<wm_dtype>(*t);
    return WM_OK;
  });
}

int32_t wm_dtype_gguf_id(wm_dtype type) { return valid(type) ? wm::dtype_gguf_id(cpp(type)) : -1; }
uint32_t wm_dtype_block_elems(wm_dtype type) { return valid(type) ? wm::dtype_block_elems(cpp(type)) : 0; }
uint32_t wm_dtype_block_bytes(wm_dtype type) { return valid(type) ? wm::dtype_block_bytes(cpp(type)) : 0; }

int wm_dtype_can_convert(wm_dtype from, wm_dtype to) {
  return valid(from) && valid(to) && wm::dtype_can_convert(cpp(from), cpp(to)) ? 1 : 0;
}

wm_status wm_dtype_convert(wm_dtype from, wm_dtype to, const void* src, uint64_t elements, void* dst,
                           uint64_t dst_bytes) {
  return guarded([&] {
    if (!valid(from) || !valid(to))
      return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_dtype_convert: {} is not a wm_dtype",
                                                       static_cast<int>(valid(from) ? to : from)));
    if (elements > 0 && !src) return wm::capi::null_argument("wm_dtype_convert", "src");
    if (elements > 0 && !dst) return wm::capi::null_argument("wm_dtype_convert", "dst");
    const uint64_t block = wm::dtype_block_elems(cpp(to));
    if (elements % block == 0) {
      const uint64_t needed = elements / block * wm::dtype_block_bytes(cpp(to));
      if (dst_bytes < needed)
        return fail(WM_ERR_BUFFER_TOO_SMALL, fmt::format("wm_dtype_convert: {} {} values need {} bytes, dst holds {}",
                                                         elements, wm::dtype_name(cpp(to)), needed, dst_bytes));
    }
    wm::Status s = wm::dtype_convert(cpp(from), cpp(to), src, elements, dst);
    if (!s) return fail(s.error());
    return WM_OK;
  });
}

}  // extern "C"
