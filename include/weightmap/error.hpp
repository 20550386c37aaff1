// Errors: every failure names the file, the tensor and the byte offset where
// they are known, says what was expected, and carries a code engines can
// branch on. Result<T> is a value or an Error (a small std::expected).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include "weightmap/export.hpp"

namespace wm {

enum class ErrorCode : uint8_t {
  kUnknown = 0,        // not classified (a bug if seen: please report)
  kNotFound,           // a file, tensor, device or key that does not exist
  kBadFormat,          // a file that is not what it claims (bad header, offsets, types)
  kUnsupported,        // valid input weightmap cannot handle (a dtype, a conversion, a mode)
  kChangedOnDisk,      // a file changed (truncated, rewritten, replaced) since it was opened
  kOutOfMemory,        // host or device memory ran out, or --max-memory would be exceeded
  kLimitReached,       // a configured limit (mmap limits, open files) was reached
  kIo,                 // the operating system failed a read, map or other call
  kInvalidArgument,    // options or arguments that make no sense (bad rules, bad hints)
  kDevice,             // a device failed (allocation, upload, download)
};
// "not_found", "bad_format", ...: stable names (JSON, the C API, logs).
WM_API const char* error_code_name(ErrorCode code);

struct WM_API Error {
  std::string file;                // empty when no file is involved
  std::string tensor;              // empty when no tensor is involved
  std::optional<uint64_t> offset;  // byte offset in `file`, when known
  std::string message;             // what was wrong and what was expected
  ErrorCode code = ErrorCode::kUnknown;

  // "file 'a.gguf': tensor 'x' at byte 40: message"
  std::string to_string() const;
};

// Thrown by Result::value() on an error (a misuse: check ok() first). Its
// what() holds the error's text; error() the Error itself.
class WM_API BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(Error e);
  const Error& error() const { return error_; }

 private:
  Error error_;
};

// Thrown by Result::error() / Status::error() when there is none.
class WM_API NoError : public std::logic_error {
 public:
  NoError() : std::logic_error("wm: error() called on a result that holds a value, not an error") {}
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok(); otherwise throws BadResultAccess naming the error.
  T& value() & { return *checked(); }
  const T& value() const& { return *const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(*checked()); }
  T* operator->() { return checked(); }
  const T* operator->() const { return const_cast<Result*>(this)->checked(); }
  T& operator*() & { return *checked(); }
  const T& operator*() const& { return *const_cast<Result*>(this)->checked(); }
  // REQUIRES: !ok(); otherwise throws NoError.
  const Error& error() const {
    if (v_.index() != 1) throw NoError();
    return *std::get_if<1>(&v_);
  }

 private:
  T* checked() {
    if (v_.index() != 0) throw BadResultAccess(*std::get_if<1>(&v_));
    return std::get_if<0>(&v_);
  }
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok(); otherwise throws NoError.
  const Error& error() const {
    if (!error_) throw NoError();
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace wm
