// The reference verify compares converted tensors with: element values
// decoded from each format's definition in double, and rounded to a target
// format in double (round to nearest even, IEEE overflow and subnormals).
// Written independently of dtype/convert.cc, which it checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dtype/dtype.h"

namespace wm::reference {

// Whether decode() knows `t`.
bool can_decode(DType t);
// Whether round_to() / value_at() know `t` as a conversion target.
bool can_target(DType t);

// `n` elements from `src` (whole blocks for block types), appended to `out`.
// REQUIRES: can_decode(t).
void decode(DType t, const std::byte* src, uint64_t n, std::vector<double>& out);

// `x` as the nearest value of target `t` (I32: clamped, truncated toward zero).
// REQUIRES: can_target(t).
double round_to(double x, DType t);

// Element k of a buffer of target dtype `t`, exactly, as a double.
double value_at(DType t, const std::byte* data, uint64_t k);

// Same value, NaN equal to NaN, zeros equal only with the same sign.
bool same_value(double a, double b);

}  // namespace wm::reference
