// Writes a GGUF laid out as llama.cpp's Q4_K_M quantisation lays out a
// Llama-3-8B-geometry model (the most common kind of published GGUF), for
// benchmarks:
//   make_q4km_model PATH [LAYERS=18]
// 18 layers make about 3 GB. Types follow llama.cpp's rules for Q4_K_M:
// output.weight Q6_K; attn_v and ffn_down Q6_K on the layers
// use_more_bits() picks (the first and last eighth, and every third in
// between), Q4_K elsewhere; every other matrix Q4_K; norms F32.
// Block bytes are deterministic; each block's f16 scales are small finite
// values so every weight decodes to a finite number.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>

#include "bench_vocab.h"
#include "dtype/dtype.h"
#include "format/gguf_writer.h"

namespace {

using wm::DType;

constexpr uint64_t kEmbd = 4096, kFf = 14336, kKv = 1024, kVocab = 128256;

// llama.cpp's use_more_bits(i_layer, n_layers).
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Byte offsets of a block's f16 scale fields: Q4_K starts with d and dmin,
// Q6_K ends with d. Everything else is quants and packed sub-scales, where
// any byte is valid.
bool is_scale_byte(DType t, uint64_t in_block) {
  if (t == DType::Q4_K) return in_block < 4;
  if (t == DType::Q6_K) return in_block >= 208;
  return false;
}

wm::TensorData blocks(DType t, uint64_t seed) {
  const uint64_t block = wm::dtype_info(t).block_bytes;
  return {[t, seed, block](uint64_t offset, std::span<std::byte> out) {
    for (size_t k = 0; k < out.size(); ++k) {
      uint64_t at = offset + k;
      uint64_t in_block = at % block;
      uint8_t v;
      if (t == DType::F32) v = (at % 4 == 3) ? 0x3c : static_cast<uint8_t>(at * 29 + seed);  // floats near 0.01
      else if (is_scale_byte(t, in_block)) v = (in_block % 2 == 1) ? 0x18 : static_cast<uint8_t>(seed + at / block);  // f16 ~ 2^-9
      else v = static_cast<uint8_t>((at * 131 + seed * 7) >> 2);
      out[k] = static_cast<std::byte>(v);
    }
  }};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_q4km_model PATH [LAYERS=18]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int layers = argc > 2 ? std::atoi(argv[2]) : 18;
  if (layers < 1 || layers > 200) {
    std::fprintf(stderr, "LAYERS must be 1..200\n");
    return 2;
  }
  wm::GgufWriter w(3, 32);
  using wm::MetaType;
  using wm::MetaValue;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  w.add_metadata("general.name", MetaValue::str("weightmap Q4_K_M benchmark model"));
  w.add_metadata("general.file_type", MetaValue::u(MetaType::U32, 15));  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  w.add_metadata("llama.block_count", MetaValue::u(MetaType::U32, layers));
  w.add_metadata("llama.embedding_length", MetaValue::u(MetaType::U32, kEmbd));
  w.add_metadata("llama.feed_forward_length", MetaValue::u(MetaType::U32, kFf));
  w.add_metadata("llama.attention.head_count", MetaValue::u(MetaType::U32, 32));
  w.add_metadata("llama.attention.head_count_kv", MetaValue::u(MetaType::U32, 8));
  w.add_metadata("llama.context_length", MetaValue::u(MetaType::U32, 8192));
  wm::bench::add_vocab(w, static_cast<int>(kVocab), 280147);

  uint64_t seed = 1;
  auto add = [&](std::string name, DType t, std::vector<uint64_t> shape) {
    w.add_tensor(std::move(name), t, std::move(shape), blocks(t, seed++));
  };
  // GGUF shapes are written outermost first here: {rows, cols}.
  add("token_embd.weight", DType::Q4_K, {kVocab, kEmbd});
  for (int i = 0; i < layers; ++i) {
    const DType more = use_more_bits(i, layers) ? DType::Q6_K : DType::Q4_K;
    auto blk = [i](const char* what) { return fmt::format("blk.{}.{}", i, what); };
    add(blk("attn_norm.weight"), DType::F32, {kEmbd});
    add(blk("attn_q.weight"), DType::Q4_K, {kEmbd, kEmbd});
    add(blk("attn_k.weight"), DType::Q4_K, {kKv, kEmbd});
    add(blk("attn_v.weight"), more, {kKv, kEmbd});
    add(blk("attn_output.weight"), DType::Q4_K, {kEmbd, kEmbd});
    add(blk("ffn_norm.weight"), DType::F32, {kEmbd});
    add(blk("ffn_gate.weight"), DType::Q4_K, {kFf, kEmbd});
    add(blk("ffn_up.weight"), DType::Q4_K, {kFf, kEmbd});
    add(blk("ffn_down.weight"), more, {kEmbd, kFf});
  }
  add("output_norm.weight", DType::F32, {kEmbd});
  add("output.weight", DType::Q6_K, {kVocab, kEmbd});
  if (wm::Status s = w.write(path); !s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  return 0;
}
