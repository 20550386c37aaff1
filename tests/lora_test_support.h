// Shared by the lora_*_test programs: random weights and factors, reference
// decoders written from the format definitions, a double-precision
// reference merge, and LoRA file writers for each naming convention.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "dtype/dtype.h"
#include "dtype/half.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "kquant_bounds.h"
#include "test_support.h"

namespace wm::lora_test {

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t x = (s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1p-53; }
};

inline std::vector<float> random_floats(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  Rng r{seed};
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(r.uniform(lo, hi));
  return v;
}

template <class T>
T load_at(const std::byte* p, size_t k) {
  T v;
  std::memcpy(&v, p + k * sizeof(T), sizeof(T));
  return v;
}

// Bytes of a float tensor in `t` (F32, F16 or BF16).
inline std::vector<std::byte> encode(DType t, const std::vector<float>& v) {
  size_t es = t == DType::F32 ? 4 : 2;
  std::vector<std::byte> b(v.size() * es);
  for (size_t k = 0; k < v.size(); ++k) {
    if (t == DType::F32) {
      std::memcpy(b.data() + 4 * k, &v[k], 4);
    } else {
      uint16_t h = t == DType::F16 ? f32_to_f16(v[k]) : f32_to_bf16(v[k]);
      std::memcpy(b.data() + 2 * k, &h, 2);
    }
  }
  return b;
}

// Random well-formed blocks of Q8_0 or Q4_0 (scales 0.002 .. 0.05, any
// quants), or of Q4_K / Q5_K / Q6_K (super-block scales d, dmin 0.0005 ..
// 0.005, any sub-block scales and quants).
inline std::vector<std::byte> random_blocks(DType t, size_t elems, uint64_t seed) {
  const size_t bb = dtype_block_bytes(t), be = dtype_block_elems(t);
  std::vector<std::byte> b(elems / be * bb);
  Rng r{seed};
  const auto put_half = [&](size_t at, double lo, double hi) {
    uint16_t d = f32_to_f16(static_cast<float>(r.uniform(lo, hi)));
    std::memcpy(b.data() + at, &d, 2);
  };
  for (size_t at = 0; at < b.size(); at += bb) {
    if (t == DType::Q8_0 || t == DType::Q4_0) {
      put_half(at, 0.002, 0.05);
      for (size_t j = 2; j < bb; ++j) b[at + j] = static_cast<std::byte>(r.next());
      continue;
    }
    for (size_t j = 0; j < bb; ++j) b[at + j] = static_cast<std::byte>(r.next());
    if (t == DType::Q6_K) {
      put_half(at + 208, 0.0005, 0.005);
    } else {  // Q4_K, Q5_K: d, dmin first
      put_half(at, 0.0005, 0.005);
      put_half(at + 2, 0.0005, 0.005);
    }
  }
  return b;
}

// Q4_K/Q5_K: the six-bit scale and min of sub-block j from the 12 scale bytes.
inline void k_scale_min(const std::byte* s, int j, int* sc, int* m) {
  const auto u = [&](int k) { return static_cast<int>(static_cast<uint8_t>(s[k])); };
  if (j < 4) {
    *sc = u(j) & 63;
    *m = u(j + 4) & 63;
  } else {
    *sc = (u(j + 4) & 15) | ((u(j - 4) >> 6) << 4);
    *m = (u(j + 4) >> 4) | ((u(j) >> 6) << 4);
  }
}

// Every element as a double, from the format definitions.
inline std::vector<double> decode(DType t, const std::byte* p, size_t nbytes) {
  std::vector<double> out;
  switch (t) {
    case DType::F32:
      for (size_t k = 0; k < nbytes / 4; ++k) out.push_back(load_at<float>(p, k));
      break;
    case DType::F16:
      for (size_t k = 0; k < nbytes / 2; ++k) out.push_back(test::half_value(load_at<uint16_t>(p, k)));
      break;
    case DType::BF16:
      for (size_t k = 0; k < nbytes / 2; ++k)
        out.push_back(std::bit_cast<float>(static_cast<uint32_t>(load_at<uint16_t>(p, k)) << 16));
      break;
    case DType::Q8_0:  // F16 d, 32 x int8 q: x = d * q
      for (size_t b = 0; b < nbytes / 34; ++b) {
        double d = test::half_value(load_at<uint16_t>(p + 34 * b, 0));
        for (int j = 0; j < 32; ++j) out.push_back(d * static_cast<int8_t>(p[34 * b + 2 + j]));
      }
      break;
    case DType::Q4_0:  // F16 d, 16 bytes: x[j] = d*(lo-8), x[j+16] = d*(hi-8)
      for (size_t b = 0; b < nbytes / 18; ++b) {
        double d = test::half_value(load_at<uint16_t>(p + 18 * b, 0));
        double x[32];
        for (int j = 0; j < 16; ++j) {
          auto q = static_cast<uint8_t>(p[18 * b + 2 + j]);
          x[j] = d * ((q & 15) - 8);
          x[j + 16] = d * ((q >> 4) - 8);
        }
        out.insert(out.end(), x, x + 32);
      }
      break;
    case DType::Q4_K:  // d, dmin (F16) | scales[12] | qs[128]: x = d*sc*q - dmin*m per 32
    case DType::Q5_K:  // d, dmin | scales[12] | qh[32] (bit j of qh[l]: the fifth bit) | qs[128]
      for (size_t b = 0, bb = dtype_block_bytes(t); b < nbytes / bb; ++b) {
        const std::byte* blk = p + bb * b;
        const double d = test::half_value(load_at<uint16_t>(blk, 0));
        const double dmin = test::half_value(load_at<uint16_t>(blk, 1));
        const std::byte* qs = blk + (t == DType::Q4_K ? 16 : 48);
        for (int j = 0; j < 8; ++j) {
          int sc, m;
          k_scale_min(blk + 4, j, &sc, &m);
          for (int l = 0; l < 32; ++l) {
            int q = (static_cast<uint8_t>(qs[32 * (j / 2) + l]) >> (4 * (j % 2))) & 15;
            if (t == DType::Q5_K) q |= ((static_cast<uint8_t>(blk[16 + l]) >> j) & 1) << 4;
            out.push_back(d * sc * q - dmin * m);
          }
        }
      }
      break;
    case DType::Q6_K:  // ql[128] | qh[64] | int8 scales[16] | d: x = d*scale*(q-32) per 16
      for (size_t b = 0; b < nbytes / 210; ++b) {
        const std::byte* blk = p + 210 * b;
        const double d = test::half_value(load_at<uint16_t>(blk + 208, 0));
        for (int e = 0; e < 256; ++e) {
          const int h = e / 128, k = (e % 128) / 32, l = e % 32;
          const int lo = (static_cast<uint8_t>(blk[64 * h + l + 32 * (k % 2)]) >> (4 * (k / 2))) & 15;
          const int hi = (static_cast<uint8_t>(blk[128 + 32 * h + l]) >> (2 * k)) & 3;
          out.push_back(d * static_cast<int8_t>(blk[192 + e / 16]) * ((lo | (hi << 4)) - 32));
        }
      }
      break;
    default: ADD_FAILURE() << "no reference decoder for " << dtype_name(t);
  }
  return out;
}
inline std::vector<double> decode(DType t, const std::vector<std::byte>& b) { return decode(t, b.data(), b.size()); }

// One LoRA's factors for a rows x cols weight, with strength and alpha.
struct Factors {
  uint32_t rank = 4;
  std::vector<float> down;  // rank x cols
  std::vector<float> up;    // rows x rank
  std::optional<float> alpha;
  double strength = 1.0;
  bool rslora = false;  // PEFT use_rslora: alpha / sqrt(r)
  double scale() const {
    return strength * (alpha ? *alpha : rank) / (rslora ? std::sqrt(static_cast<double>(rank)) : rank);
  }
};

inline Factors random_factors(uint64_t rows, uint64_t cols, uint32_t rank, uint64_t seed,
                              std::optional<float> alpha = std::nullopt, double strength = 1.0) {
  Factors f;
  f.rank = rank;
  f.down = random_floats(rank * cols, seed, -0.5, 0.5);
  f.up = random_floats(rows * rank, seed + 1, -0.5, 0.5);
  f.alpha = alpha;
  f.strength = strength;
  return f;
}

// W + sum scale * up @ down, all in double.
inline std::vector<double> reference_merge(std::vector<double> w, uint64_t rows, uint64_t cols,
                                           const std::vector<const Factors*>& loras) {
  for (const Factors* f : loras)
    for (uint64_t i = 0; i < rows; ++i)
      for (uint64_t j = 0; j < cols; ++j) {
        double s = 0;
        for (uint32_t k = 0; k < f->rank; ++k) s += static_cast<double>(f->up[i * f->rank + k]) * f->down[k * cols + j];
        w[i * cols + j] += f->scale() * s;
      }
  return w;
}

// Largest relative rounding error of a store in `t` (half an ulp).
inline double dtype_eps(DType t) {
  return t == DType::F32 ? 0x1p-24 : t == DType::F16 ? 0x1p-11 : t == DType::BF16 ? 0x1p-8 : 0;
}

// Checks `got` (the patched tensor, decoded) against the reference merge:
// float types within one rounding of the result plus F32 arithmetic error;
// Q8_0 / Q4_0 within one quantisation step of each block's reference;
// K-quants within kquant_tolerance (kquant_bounds.h).
inline void expect_merged(DType t, const std::vector<double>& got, const std::vector<double>& want,
                          const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0;
  const bool kquant = t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K;
  const size_t group = kquant ? test::kquant_group(t) : 32;
  for (size_t b = 0; b < want.size(); b += group) {
    double amax = 0;
    for (size_t j = b; j < std::min(want.size(), b + group); ++j) amax = std::max(amax, std::fabs(want[j]));
    for (size_t j = b; j < std::min(want.size(), b + group); ++j) {
      double tol;
      if (t == DType::Q8_0) tol = amax / 254 + amax * 0x1p-10 + 1e-6;
      else if (t == DType::Q4_0) tol = amax / 8 + amax * 0x1p-9 + 1e-6;
      else if (kquant) tol = test::kquant_tolerance(t, want.data() + j / 256 * 256, j % 256) + 1e-5;
      else tol = std::fabs(want[j]) * dtype_eps(t) + 1e-5 * (1 + std::fabs(want[j]));
      if (!(std::fabs(got[j] - want[j]) <= tol) && bad++ < 5)
        ADD_FAILURE() << what << " element " << j << ": got " << got[j] << ", want " << want[j] << " (tol " << tol
                      << ")";
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

// Names of a LoRA's tensors under one convention, for base stem `stem`.
enum class Convention { kPeft, kKohya, kDiffusers, kLlamaCpp };
struct FactorNames {
  std::string down, up, alpha;
};
inline FactorNames names_for(Convention c, const std::string& stem) {
  switch (c) {
    case Convention::kPeft: return {stem + ".lora_A.weight", stem + ".lora_B.weight", stem + ".alpha"};
    case Convention::kKohya: return {stem + ".lora_down.weight", stem + ".lora_up.weight", stem + ".alpha"};
    case Convention::kDiffusers: return {stem + ".lora.down.weight", stem + ".lora.up.weight", stem + ".alpha"};
    case Convention::kLlamaCpp: return {stem + ".lora_a", stem + ".lora_b", stem + ".alpha"};
  }
  return {};
}

// One entry of a LoRA file to write: factors for base weight `shape`, under `stem`.
struct LoraEntry {
  std::string stem;
  Convention convention;
  const Factors* f;
  std::vector<uint64_t> shape;  // base shape, outermost first
  DType dtype = DType::F32;     // factor dtype in the file
};

template <class Writer>
void add_entries(Writer& w, const std::vector<LoraEntry>& entries) {
  for (const auto& e : entries) {
    FactorNames n = names_for(e.convention, e.stem);
    uint64_t rows = e.shape[0];
    std::vector<uint64_t> down_shape = e.shape;
    down_shape[0] = e.f->rank;
    std::vector<uint64_t> up_shape{rows, e.f->rank};
    for (size_t k = 2; k < e.shape.size(); ++k) up_shape.push_back(1);  // conv: [out, r, 1, 1]
    w.add_tensor(n.down, e.dtype, down_shape, TensorData::bytes(encode(e.dtype, e.f->down)));
    w.add_tensor(n.up, e.dtype, up_shape, TensorData::bytes(encode(e.dtype, e.f->up)));
    // kohya writes alpha as a 0-d tensor; GGUF has no 0-d tensors.
    std::vector<uint64_t> alpha_shape;
    if constexpr (std::is_same_v<Writer, GgufWriter>) alpha_shape = {1};
    if (e.f->alpha) w.add_tensor(n.alpha, DType::F32, alpha_shape, TensorData::bytes(encode(DType::F32, {*e.f->alpha})));
  }
}

inline void write_lora_safetensors(const std::string& path, const std::vector<LoraEntry>& entries) {
  SafetensorsWriter w;
  add_entries(w, entries);
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
}

// A PEFT adapter as save_pretrained lays it out: adapter_model.safetensors
// ("base_model.model.<module>.lora_A.weight" / "lora_B.weight", no alpha
// tensors, metadata format=pt) beside adapter_config.json (`config`; none
// when empty). `entries` stems are the module names. Returns the adapter path.
inline std::string write_peft_adapter(const std::string& dir, const std::vector<LoraEntry>& entries,
                                      const std::string& config) {
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  for (const auto& e : entries) {
    FactorNames n = names_for(Convention::kPeft, "base_model.model." + e.stem);
    w.add_tensor(n.down, e.dtype, {e.f->rank, e.shape[1]}, TensorData::bytes(encode(e.dtype, e.f->down)));
    w.add_tensor(n.up, e.dtype, {e.shape[0], e.f->rank}, TensorData::bytes(encode(e.dtype, e.f->up)));
  }
  std::string path = dir + "/adapter_model.safetensors";
  Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  if (!config.empty()) test::write_text(dir + "/adapter_config.json", config);
  return path;
}

// adapter_config.json as PEFT writes it (sorted keys, indent 2); `fields`
// replaces or adds fields, each a `"key": value` line without the comma.
inline std::string peft_config(int r, double lora_alpha, const std::vector<std::string>& fields = {}) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"alpha_pattern", "{}"},       {"auto_mapping", "null"},
      {"base_model_name_or_path", "\"tiny-llama\""},
      {"bias", "\"none\""},          {"fan_in_fan_out", "false"},
      {"inference_mode", "true"},    {"init_lora_weights", "true"},
      {"layers_pattern", "null"},    {"layers_to_transform", "null"},
      {"lora_alpha", fmt::format("{}", lora_alpha)},
      {"lora_dropout", "0.05"},      {"modules_to_save", "null"},
      {"peft_type", "\"LORA\""},     {"r", std::to_string(r)},
      {"rank_pattern", "{}"},        {"revision", "null"},
      {"target_modules", "[\"q_proj\", \"k_proj\", \"v_proj\"]"},
      {"task_type", "\"CAUSAL_LM\""}, {"use_dora", "false"},
      {"use_rslora", "false"}};
  for (const auto& line : fields) {
    std::string key = line.substr(1, line.find('"', 1) - 1);
    std::string value = line.substr(line.find(':') + 1);
    auto it = std::find_if(f.begin(), f.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != f.end()) it->second = value;
    else f.emplace_back(key, value);
  }
  std::string out = "{\n";
  for (size_t i = 0; i < f.size(); ++i)
    out += fmt::format("  \"{}\": {}{}\n", f[i].first, f[i].second, i + 1 < f.size() ? "," : "");
  return out + "}\n";
}

inline void write_lora_gguf(const std::string& path, const std::vector<LoraEntry>& entries) {
  GgufWriter w;
  add_entries(w, entries);
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
}

}  // namespace wm::lora_test
