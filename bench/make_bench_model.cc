// Writes a model file shaped like a real 3 GB one, for benchmarks:
//   make_bench_model gguf PATH [TOTAL_GB=3] [TENSORS=300]
//     F16 tensors and a 152k-token vocabulary (tokens, scores, types, merges)
//   make_bench_model safetensors PATH [TOTAL_GB=3] [TENSORS=300]
//     BF16 tensors (unaligned offsets, as real safetensors files have)
//   make_bench_model KIND PATH
//     a model shaped like a real one (bench_models.h): llama-f16, sd-unet-f16,
//     sd-vae-f16, clip-f16, llama-q4k
// Tensor bytes are deterministic and non-zero so copies can be checked.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>

#include "bench_models.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"

namespace {

wm::TensorData pattern(uint64_t seed) {
  return {[seed](uint64_t offset, std::span<std::byte> out) {
    for (size_t k = 0; k < out.size(); ++k)
      out[k] = static_cast<std::byte>(((offset + k) * 131 + seed * 7) >> 3 & 0x3f);  // small finite halves
  }};
}

void add_vocab(wm::GgufWriter& w) {
  using wm::MetaType;
  using wm::MetaValue;
  std::vector<MetaValue> tokens, scores, types, merges;
  const int vocab = 152064;
  for (int k = 0; k < vocab; ++k) {
    tokens.push_back(MetaValue::str(fmt::format("tok_{}", k)));
    scores.push_back(MetaValue::f(MetaType::F32, -k * 0.01));
    types.push_back(MetaValue::i(MetaType::I32, 1));
    if (k < 151387) merges.push_back(MetaValue::str(fmt::format("t{} o{}", k % 977, k)));
  }
  w.add_metadata("tokenizer.ggml.tokens", MetaValue::array(MetaType::STRING, std::move(tokens)));
  w.add_metadata("tokenizer.ggml.scores", MetaValue::array(MetaType::F32, std::move(scores)));
  w.add_metadata("tokenizer.ggml.token_type", MetaValue::array(MetaType::I32, std::move(types)));
  w.add_metadata("tokenizer.ggml.merges", MetaValue::array(MetaType::STRING, std::move(merges)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3) {
    wm::bench::BenchModel m = wm::bench::bench_model(argv[1]);
    if (!m.tensors.empty()) {
      wm::Status s = wm::bench::write_bench_model(m, argv[2]);
      if (!s) std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      return s ? 0 : 1;
    }
  }
  if (argc < 3 || (std::strcmp(argv[1], "gguf") != 0 && std::strcmp(argv[1], "safetensors") != 0)) {
    std::fprintf(stderr, "usage: make_bench_model gguf|safetensors PATH [TOTAL_GB=3] [TENSORS=300]\n"
                         "       make_bench_model llama-f16|sd-unet-f16|sd-vae-f16|clip-f16|llama-q4k PATH\n");
    return 2;
  }
  bool gguf = std::strcmp(argv[1], "gguf") == 0;
  std::string path = argv[2];
  double gb = argc > 3 ? std::atof(argv[3]) : 3.0;
  int n = argc > 4 ? std::atoi(argv[4]) : 300;
  // Equal-sized 2-byte tensors of 1024-element rows adding up to `gb`; an
  // odd-sized norm vector between them keeps safetensors offsets unaligned.
  uint64_t rows = static_cast<uint64_t>(gb * (1ull << 30)) / static_cast<uint64_t>(n) / 2048;
  wm::Status s;
  if (gguf) {
    wm::GgufWriter w(3, 32);
    w.add_metadata("general.architecture", wm::MetaValue::str("qwen2"));
    w.add_metadata("general.name", wm::MetaValue::str("weightmap benchmark model"));
    add_vocab(w);
    for (int k = 0; k < n; ++k) w.add_tensor(fmt::format("blk.{}.weight", k), wm::DType::F16, {rows, 1024}, pattern(k));
    s = w.write(path);
  } else {
    wm::SafetensorsWriter w;
    w.add_metadata("format", "pt");
    for (int k = 0; k < n; ++k) {
      w.add_tensor(fmt::format("blocks.{}.weight", k), wm::DType::BF16, {rows, 1024}, pattern(k));
      w.add_tensor(fmt::format("blocks.{}.norm", k), wm::DType::BF16, {3}, pattern(k));
    }
    s = w.write(path);
  }
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  return 0;
}
