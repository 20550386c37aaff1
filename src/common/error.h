// Error values (the public Error, Status, Result of weightmap/error.hpp) and
// the exception parsers throw internally.
#pragma once

#include "weightmap/error.hpp"

namespace wm {

// Thrown inside parsers (never across the public API: entry points catch it
// and return Result), so that deep validation code stays readable.
struct ParseFailure {
  Error error;
};

// `e` with `code` unless something closer to the failure set one: how a
// stage classifies its callees' errors ("a parser's error is bad_format").
inline Error with_code(Error e, ErrorCode code) {
  if (e.code == ErrorCode::kUnknown) e.code = code;
  return e;
}

}  // namespace wm
