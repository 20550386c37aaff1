// Error values: every failure names the file, the tensor and the byte offset
// where they are known, and says what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace wm {

struct Error {
  std::string file;                // empty when no file is involved
  std::string tensor;              // empty when no tensor is involved
  std::optional<uint64_t> offset;  // byte offset in `file`, when known
  std::string message;             // what was wrong and what was expected

  // "file 'a.gguf': tensor 'x' at byte 40: message"
  std::string to_string() const;
};

// Thrown inside parsers (never across the public API: entry points catch it
// and return Result), so that deep validation code stays readable.
struct ParseFailure {
  Error error;
};

// A value or an Error. Small stand-in for std::expected (C++23).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace wm
