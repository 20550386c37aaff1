// What the C API's files share: the model handle, the thread-local last
// error, and the guard every entry point runs its body in (no C++ exception
// crosses into C). Internal to src/capi/.
#pragma once

#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "weightmap/error.hpp"
#include "weightmap/model.hpp"
#include "weightmap/weightmap.h"

// The opaque handle: a wm::Model plus what the C API hands out by pointer
// (metadata keys and values the C++ API returns by value), kept until release.
struct wm_model {
  wm::Model model;
  std::vector<std::string> metadata_keys;

  // One converted metadata value; its storage never moves once made.
  struct CachedValue {
    std::string text;
    std::vector<int64_t> ints;
    std::vector<double> doubles;
    std::vector<std::string> strings;
    std::vector<const char*> string_ptrs;
  };
  // Getters are const and may run on many threads at once: the cache is
  // the one mutable part, under its mutex. Keyed by kind + '\0' + key.
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::unique_ptr<CachedValue>, std::less<>> cache;
};

namespace wm::capi {

wm_status to_status(ErrorCode code);
ErrorCode to_error_code(wm_status status);

// Records a failure as this thread's last error and returns its status.
wm_status fail(const Error& error);
wm_status fail(wm_status status, std::string message);
// Forgets the last error (a call that succeeds).
void clear_error();
// fail() that cannot throw (the message may be lost when memory is out,
// never the status): for the exception handlers.
wm_status fail_noexcept(wm_status status, const char* message, const char* detail) noexcept;

// Runs `body` (returning wm_status) with the last error cleared first, and
// turns any exception into a status: std::bad_alloc -> out of memory,
// anything else -> unknown, with its text.
template <class F>
wm_status guarded(F&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (const std::bad_alloc&) {
    return fail_noexcept(WM_ERR_OUT_OF_MEMORY, "out of memory (std::bad_alloc) inside weightmap", "");
  } catch (const std::exception& e) {
    return fail_noexcept(WM_ERR_UNKNOWN, "internal error: ", e.what());
  } catch (...) {
    return fail_noexcept(WM_ERR_UNKNOWN, "internal error: an unknown exception", "");
  }
}

// A NULL argument: WM_ERR_INVALID_ARGUMENT naming the function and parameter.
wm_status null_argument(const char* function, const char* parameter);
// A released or NULL model.
wm_status check_model(const wm_model* model, const char* function);

// The caller's struct as this library reads it: the defaults, overwritten
// by the bytes the caller's struct_size covers. A struct_size below the
// first field or above what this library knows is refused.
template <class T>
wm_status read_struct(const T* caller, T& out, const char* what) {
  size_t size = 0;
  std::memcpy(&size, caller, sizeof size);
  if (size < sizeof(size_t))
    return fail(WM_ERR_INVALID_ARGUMENT, std::string(what) + ": struct_size " + std::to_string(size) +
                                             " is too small (set it to sizeof the struct)");
  if (size > sizeof(T))
    return fail(WM_ERR_UNSUPPORTED, std::string(what) + ": struct_size " + std::to_string(size) +
                                        " is larger than this library's " + std::to_string(sizeof(T)) +
                                        " (a header newer than the library)");
  std::memcpy(static_cast<void*>(&out), caller, size);
  return WM_OK;
}

// Checks the caller's out-struct size the same way (before any work).
template <class T>
wm_status check_out_struct(const T* caller, const char* what) {
  T scratch{};
  return read_struct(caller, scratch, what);
}

// Writes `full` into the caller's struct, only the fields its struct_size
// covers (struct_size itself is left as the caller set it).
// REQUIRES: check_out_struct(caller) succeeded.
template <class T>
void write_struct(T* caller, const T& full) {
  size_t size = 0;
  std::memcpy(&size, caller, sizeof size);
  std::memcpy(reinterpret_cast<char*>(caller) + sizeof(size_t), reinterpret_cast<const char*>(&full) + sizeof(size_t),
              size - sizeof(size_t));
}

// A copy of `v` in memory the caller frees with wm_free (malloc); nullptr
// when empty.
size_t* copy_indices(const std::vector<size_t>& v);

}  // namespace wm::capi
