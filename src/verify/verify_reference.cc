#include "verify/verify_reference.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace wm::reference {
namespace {

template <class T>
T load(const std::byte* p, uint64_t k) {
  T v;
  std::memcpy(&v, p + k * sizeof(T), sizeof(T));
  return v;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// A binary float of `exp_bits` / `mant_bits` with IEEE rules (bias 2^(e-1)-1,
// all-ones exponent = inf/NaN; with `fn_nan_only` no infinities and only the
// all-ones pattern is NaN), from its bit fields.
double ieee_value(uint32_t bits, int exp_bits, int mant_bits, bool fn_nan_only = false) {
  uint32_t mant = bits & ((1u << mant_bits) - 1);
  uint32_t exp = (bits >> mant_bits) & ((1u << exp_bits) - 1);
  bool neg = (bits >> (mant_bits + exp_bits)) & 1u;
  int bias = (1 << (exp_bits - 1)) - 1;
  uint32_t all_ones = (1u << exp_bits) - 1;
  double v;
  if (fn_nan_only) {  // E4M3 "fn": no infinities, only S.1111.111 is NaN
    if (exp == all_ones && mant == (1u << mant_bits) - 1) return std::numeric_limits<double>::quiet_NaN();
  } else if (exp == all_ones) {
    if (mant != 0) return std::numeric_limits<double>::quiet_NaN();
    return neg ? -kInf : kInf;
  }
  if (exp == 0) v = std::ldexp(static_cast<double>(mant), 1 - bias - mant_bits);
  else v = std::ldexp(static_cast<double>(mant | (1u << mant_bits)), static_cast<int>(exp) - bias - mant_bits);
  return neg ? -v : v;
}

struct Format {
  int mant_bits, emin, emax;
};

double round_float(double x, Format f) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  double a = std::fabs(x);
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  double q = std::ldexp(1.0, std::max(e - 1, f.emin) - f.mant_bits);  // spacing at a
  double r = std::nearbyint(a / q) * q;                               // ties to even
  if (r > std::ldexp(2.0 - std::ldexp(1.0, -f.mant_bits), f.emax)) r = kInf;
  return std::copysign(r, x);
}

}  // namespace

bool can_decode(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::F64: case DType::F8_E4M3:
    case DType::F8_E5M2: case DType::Q8_0: case DType::Q4_0: case DType::I64: case DType::I32:
      return true;
    default: return false;
  }
}

bool can_target(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::I32;
}

void decode(DType t, const std::byte* p, uint64_t n, std::vector<double>& out) {
  switch (t) {
    case DType::F32: for (uint64_t k = 0; k < n; ++k) out.push_back(load<float>(p, k)); break;
    case DType::F64: for (uint64_t k = 0; k < n; ++k) out.push_back(load<double>(p, k)); break;
    case DType::F16: for (uint64_t k = 0; k < n; ++k) out.push_back(ieee_value(load<uint16_t>(p, k), 5, 10)); break;
    case DType::BF16: for (uint64_t k = 0; k < n; ++k) out.push_back(ieee_value(load<uint16_t>(p, k), 8, 7)); break;
    case DType::F8_E4M3:
      for (uint64_t k = 0; k < n; ++k) out.push_back(ieee_value(static_cast<uint8_t>(p[k]), 4, 3, true));
      break;
    case DType::F8_E5M2:
      for (uint64_t k = 0; k < n; ++k) out.push_back(ieee_value(static_cast<uint8_t>(p[k]), 5, 2));
      break;
    case DType::I64: for (uint64_t k = 0; k < n; ++k) out.push_back(static_cast<double>(load<int64_t>(p, k))); break;
    case DType::I32: for (uint64_t k = 0; k < n; ++k) out.push_back(load<int32_t>(p, k)); break;
    case DType::Q8_0:  // 34-byte blocks: F16 scale d, 32 x int8 q; x = d * q
      for (uint64_t b = 0; b < n / 32; ++b) {
        double d = ieee_value(load<uint16_t>(p + 34 * b, 0), 5, 10);
        for (int j = 0; j < 32; ++j) out.push_back(d * static_cast<int8_t>(p[34 * b + 2 + j]));
      }
      break;
    case DType::Q4_0:  // 18-byte blocks: F16 scale d, 16 bytes; x[j] = d*(lo-8), x[j+16] = d*(hi-8)
      for (uint64_t b = 0; b < n / 32; ++b) {
        double d = ieee_value(load<uint16_t>(p + 18 * b, 0), 5, 10);
        size_t at = out.size();
        out.resize(at + 32);
        for (int j = 0; j < 16; ++j) {
          auto q = static_cast<uint8_t>(p[18 * b + 2 + j]);
          out[at + j] = d * ((q & 15) - 8);
          out[at + j + 16] = d * ((q >> 4) - 8);
        }
      }
      break;
    default: break;
  }
}

double round_to(double x, DType t) {
  switch (t) {
    case DType::F32: return round_float(x, {23, -126, 127});
    case DType::F16: return round_float(x, {10, -14, 15});
    case DType::BF16: return round_float(x, {7, -126, 127});
    case DType::I32: return std::trunc(std::clamp(x, -2147483648.0, 2147483647.0));
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

double value_at(DType t, const std::byte* data, uint64_t k) {
  switch (t) {
    case DType::F32: return load<float>(data, k);
    case DType::F16: return ieee_value(load<uint16_t>(data, k), 5, 10);
    case DType::BF16: return ieee_value(load<uint16_t>(data, k), 8, 7);
    case DType::I32: return load<int32_t>(data, k);
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

}  // namespace wm::reference
