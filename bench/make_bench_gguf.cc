// Writes a GGUF shaped like a real 3 GB language model for header-parsing
// benchmarks: a 152k-token vocabulary (tokens, scores, types, merges) and a
// few hundred F16/Q8_0 tensors. Tensor bytes are zeros: only headers are timed.
//   make_bench_gguf PATH [TOTAL_GB=3] [TENSORS=300]
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <string>

#include "format/gguf_writer.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_bench_gguf PATH [TOTAL_GB=3] [TENSORS=300]\n");
    return 2;
  }
  double gb = argc > 2 ? std::atof(argv[2]) : 3.0;
  int n = argc > 3 ? std::atoi(argv[3]) : 300;
  using wm::MetaType;
  using wm::MetaValue;
  wm::GgufWriter w(3, 32);
  w.add_metadata("general.architecture", MetaValue::str("qwen2"));
  w.add_metadata("general.name", MetaValue::str("weightmap header benchmark"));
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

  // Equal-sized F16 tensors of 1024-element rows adding up to `gb`.
  uint64_t per_tensor = static_cast<uint64_t>(gb * (1ull << 30)) / static_cast<uint64_t>(n);
  uint64_t rows = per_tensor / 2048;
  auto zeros = wm::TensorData{[](uint64_t, std::span<std::byte> out) { std::fill(out.begin(), out.end(), std::byte{0}); }};
  for (int k = 0; k < n; ++k) w.add_tensor(fmt::format("blk.{}.weight", k), wm::DType::F16, {rows, 1024}, zeros);
  if (auto s = w.write(argv[1]); !s) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  return 0;
}
