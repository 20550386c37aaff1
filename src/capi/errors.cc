// The C API's status codes and its thread-local last error.
#include <cstdlib>
#include <string>

#include "capi/capi.h"

namespace wm::capi {
namespace {

struct LastError {
  wm_status code = WM_OK;
  std::string message, file, tensor;
  bool has_offset = false;
  uint64_t offset = 0;
};
thread_local LastError last_error;

}  // namespace

// wm_status repeats wm::ErrorCode's values: checked here, once.
static_assert(WM_ERR_UNKNOWN == 1 + static_cast<int>(ErrorCode::kUnknown));
static_assert(WM_ERR_NOT_FOUND == 1 + static_cast<int>(ErrorCode::kNotFound));
static_assert(WM_ERR_BAD_FORMAT == 1 + static_cast<int>(ErrorCode::kBadFormat));
static_assert(WM_ERR_UNSUPPORTED == 1 + static_cast<int>(ErrorCode::kUnsupported));
static_assert(WM_ERR_CHANGED_ON_DISK == 1 + static_cast<int>(ErrorCode::kChangedOnDisk));
static_assert(WM_ERR_OUT_OF_MEMORY == 1 + static_cast<int>(ErrorCode::kOutOfMemory));
static_assert(WM_ERR_LIMIT_REACHED == 1 + static_cast<int>(ErrorCode::kLimitReached));
static_assert(WM_ERR_IO == 1 + static_cast<int>(ErrorCode::kIo));
static_assert(WM_ERR_INVALID_ARGUMENT == 1 + static_cast<int>(ErrorCode::kInvalidArgument));
static_assert(WM_ERR_DEVICE == 1 + static_cast<int>(ErrorCode::kDevice));

wm_status to_status(ErrorCode code) { return static_cast<wm_status>(1 + static_cast<int>(code)); }

ErrorCode to_error_code(wm_status status) {
  if (status >= WM_ERR_UNKNOWN && status <= WM_ERR_DEVICE) return static_cast<ErrorCode>(status - 1);
  return ErrorCode::kDevice;  // a C device's WM_OK-less status outside the shared range
}

wm_status fail(const Error& error) {
  LastError& l = last_error;
  l.code = to_status(error.code);
  l.message = error.to_string();
  l.file = error.file;
  l.tensor = error.tensor;
  l.has_offset = error.offset.has_value();
  l.offset = error.offset.value_or(0);
  return l.code;
}

wm_status fail(wm_status status, std::string message) {
  LastError& l = last_error;
  l.code = status;
  l.message = std::move(message);
  l.file.clear();
  l.tensor.clear();
  l.has_offset = false;
  l.offset = 0;
  return status;
}

wm_status fail_noexcept(wm_status status, const char* message, const char* detail) noexcept {
  try {
    return fail(status, std::string(message) + detail);
  } catch (...) {
    LastError& l = last_error;
    l.code = status;
    l.message.clear();  // no memory for the text: the status still says it
    l.file.clear();
    l.tensor.clear();
    l.has_offset = false;
    return status;
  }
}

void clear_error() {
  LastError& l = last_error;
  if (l.code == WM_OK) return;
  l.code = WM_OK;
  l.message.clear();
  l.file.clear();
  l.tensor.clear();
  l.has_offset = false;
}

wm_status null_argument(const char* function, const char* parameter) {
  return fail(WM_ERR_INVALID_ARGUMENT, std::string(function) + ": `" + parameter + "` is NULL");
}

wm_status check_model(const wm_model* model, const char* function) {
  if (!model) return null_argument(function, "model");
  return WM_OK;
}

size_t* copy_indices(const std::vector<size_t>& v) {
  if (v.empty()) return nullptr;
  auto* p = static_cast<size_t*>(std::malloc(v.size() * sizeof(size_t)));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, v.data(), v.size() * sizeof(size_t));
  return p;
}

}  // namespace wm::capi

using wm::capi::last_error;

extern "C" {

const char* wm_status_name(wm_status status) {
  switch (status) {
    case WM_OK: return "ok";
    case WM_ERR_WRONG_TYPE: return "wrong_type";
    case WM_ERR_BUFFER_TOO_SMALL: return "buffer_too_small";
    default:
      if (status >= WM_ERR_UNKNOWN && status <= WM_ERR_DEVICE)
        return wm::error_code_name(wm::capi::to_error_code(status));
      return "unknown";
  }
}

const char* wm_last_error(void) { return last_error.message.c_str(); }
wm_status wm_last_error_code(void) { return last_error.code; }
const char* wm_last_error_file(void) { return last_error.file.c_str(); }
const char* wm_last_error_tensor(void) { return last_error.tensor.c_str(); }

int wm_last_error_offset(uint64_t* offset) {
  if (!last_error.has_offset || !offset) return 0;
  *offset = last_error.offset;
  return 1;
}

void wm_free(void* p) { std::free(p); }

}  // extern "C"
