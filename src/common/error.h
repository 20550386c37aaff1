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

}  // namespace wm
