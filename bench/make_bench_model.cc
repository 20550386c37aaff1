// Writes a model file shaped like a real 3 GB one, for benchmarks:
//   make_bench_model gguf PATH [TOTAL_GB=3] [TENSORS=300]
//     F16 tensors and a 152k-token vocabulary (tokens, scores, types, merges)
//   make_bench_model safetensors PATH [TOTAL_GB=3] [TENSORS=300]
//     BF16 tensors (unaligned offsets, as real safetensors files have)
//   make_bench_model KIND PATH
//     a model shaped like a real one (bench_models.h): llama-f16, sd-unet-f16,
//     sd-vae-f16, clip-f16, llama-q4k, llama3-q4km (about 3 GB)
// Tensor bytes are deterministic and non-zero so copies can be checked.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>

#include "bench_models.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"

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
                         "       make_bench_model llama-f16|sd-unet-f16|sd-vae-f16|clip-f16|llama-q4k|llama3-q4km PATH\n");
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
    wm::bench::add_vocab(w, 152064, 151387);  // Qwen2's sizes
    for (int k = 0; k < n; ++k) w.add_tensor(fmt::format("blk.{}.weight", k), wm::DType::F16, {rows, 1024}, wm::bench::pattern(k));
    s = w.write(path);
  } else {
    wm::SafetensorsWriter w;
    w.add_metadata("format", "pt");
    for (int k = 0; k < n; ++k) {
      w.add_tensor(fmt::format("blocks.{}.weight", k), wm::DType::BF16, {rows, 1024}, wm::bench::pattern(k));
      w.add_tensor(fmt::format("blocks.{}.norm", k), wm::DType::BF16, {3}, wm::bench::pattern(k));
    }
    s = w.write(path);
  }
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  return 0;
}
