// Tensor info by index and by name.
#include <fmt/format.h>

#include "capi/capi.h"

using wm::capi::check_model;
using wm::capi::fail;
using wm::capi::guarded;
using wm::capi::null_argument;

namespace {

static_assert(WM_PLACEMENT_MAP == static_cast<int>(wm::Placement::kMap) &&
              WM_PLACEMENT_COPY == static_cast<int>(wm::Placement::kCopy) &&
              WM_PLACEMENT_CONVERT == static_cast<int>(wm::Placement::kConvert));
static_assert(WM_SLICE_NONE == static_cast<int>(wm::SliceDim::kNone) &&
              WM_SLICE_ROWS == static_cast<int>(wm::SliceDim::kRows) &&
              WM_SLICE_COLS == static_cast<int>(wm::SliceDim::kCols));

wm_status fill_info(const wm_model* model, size_t index, wm_tensor_info* info) {
  const wm::Model& m = model->model;
  const wm::Tensor& t = m.tensor(index);
  wm_tensor_info out{};
  out.name = t.name.c_str();
  out.dtype = static_cast<wm_dtype>(t.dtype);
  out.dtype_name = wm::dtype_name(t.dtype);
  out.ggml_type = wm::dtype_gguf_id(t.dtype);
  out.ndim = static_cast<uint32_t>(t.shape.size());
  out.shape = t.shape.data();
  out.nbytes = t.nbytes;
  out.placement = static_cast<wm_placement>(t.placement);
  out.reason = t.reason.c_str();
  out.host_data = t.host_data;
  out.on_device = t.on_device ? 1 : 0;
  out.device_buffer = wm_device_buffer{t.device_buffer.handle, t.device_buffer.id, t.device_buffer.host_ptr,
                                       t.device_buffer.nbytes};
  out.host_resident = t.host_resident ? 1 : 0;
  out.device = t.device;
  out.device_name = m.devices()[t.device].name.c_str();
  out.file = m.file_path(t.file).c_str();
  out.file_offset = t.file_offset;
  out.generation = t.generation;
  out.slice_dim = static_cast<wm_slice_dim>(t.slice.dim);
  out.slice_start = t.slice.start;
  out.slice_count = t.slice.count;
  out.slice_padded = t.slice.padded;
  // A whole tensor's shape in the file is its shape (the C++ slice leaves full_shape empty then).
  out.full_shape = t.slice.full_shape.size() == t.shape.size() ? t.slice.full_shape.data() : t.shape.data();
  wm::capi::write_struct(info, out);
  return WM_OK;
}

}  // namespace

extern "C" {

wm_status wm_model_tensor_info(const wm_model* model, size_t index, wm_tensor_info* info) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_tensor_info"); s != WM_OK) return s;
    if (!info) return null_argument("wm_model_tensor_info", "info");
    if (wm_status s = wm::capi::check_out_struct(info, "wm_tensor_info"); s != WM_OK) return s;
    if (index >= model->model.size())
      return fail(WM_ERR_INVALID_ARGUMENT,
                  fmt::format("wm_model_tensor_info: index {} is out of range ({} tensors)", index, model->model.size()));
    return fill_info(model, index, info);
  });
}

wm_status wm_model_tensor_info_by_name(const wm_model* model, const char* name, wm_tensor_info* info) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_tensor_info_by_name"); s != WM_OK) return s;
    if (!name) return null_argument("wm_model_tensor_info_by_name", "name");
    if (!info) return null_argument("wm_model_tensor_info_by_name", "info");
    if (wm_status s = wm::capi::check_out_struct(info, "wm_tensor_info"); s != WM_OK) return s;
    size_t index = 0;
    if (wm_status s = wm_model_find(model, name, &index); s != WM_OK) return s;  // names the tensor
    return fill_info(model, index, info);
  });
}

}  // extern "C"
