#include "demo/sample_models.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "dtype/half.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"

namespace wm {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t name_seed(const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Tensor bytes generated on demand: element i of the tensor is
// scale * sample_value(seed, i), stored in `dtype`.
TensorData generated(DType dtype, uint64_t seed, float scale) {
  return {[=](uint64_t offset, std::span<std::byte> out) {
    switch (dtype) {
      case DType::F32: {
        for (size_t k = 0; k < out.size(); k += 4) {
          float v = scale * sample_value(seed, (offset + k) / 4);
          std::memcpy(out.data() + k, &v, 4);
        }
        break;
      }
      case DType::F16: case DType::BF16: {
        for (size_t k = 0; k < out.size(); k += 2) {
          float v = scale * sample_value(seed, (offset + k) / 2);
          uint16_t h = dtype == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
          std::memcpy(out.data() + k, &h, 2);
        }
        break;
      }
      case DType::Q8_0: {
        // Blocks of 34 bytes: F16 scale d, then 32 int8 q; value = d * q.
        // Writers ask for arbitrary windows, so whole blocks are generated and
        // the requested bytes copied out.
        uint64_t first = offset / 34, last = (offset + out.size() + 33) / 34;
        std::byte block[34];
        for (uint64_t b = first; b < last; ++b) {
          float vals[32];
          float amax = 0;
          for (int k = 0; k < 32; ++k) {
            vals[k] = scale * sample_value(seed, b * 32 + static_cast<uint64_t>(k));
            amax = std::max(amax, std::fabs(vals[k]));
          }
          float d = amax / 127.0f;
          uint16_t dh = f32_to_f16(d);
          float inv = d > 0 ? 1.0f / f16_to_f32(dh) : 0.0f;
          std::memcpy(block, &dh, 2);
          for (int k = 0; k < 32; ++k) {
            long q = std::lround(vals[k] * inv);
            block[2 + k] = static_cast<std::byte>(static_cast<int8_t>(std::clamp(q, -127L, 127L)));
          }
          uint64_t block_start = b * 34;
          uint64_t from = std::max(block_start, offset), to = std::min(block_start + 34, offset + out.size());
          std::memcpy(out.data() + (from - offset), block + (from - block_start), to - from);
        }
        break;
      }
      default:
        std::memset(out.data(), 0, out.size());
    }
  }};
}

struct Layer {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
};

float init_scale(const std::vector<uint64_t>& shape) {
  return shape.size() >= 2 ? 1.0f / std::sqrt(static_cast<float>(shape.back())) : 1.0f;
}

Status write_text_encoder(const std::string& path, int layers) {
  const uint64_t d = 1024, ff = 2816, vocab = layers > 0 ? 8192 : 256;
  GgufWriter w(3, 32);
  w.add_metadata("general.architecture", MetaValue::str("t5encoder"));
  w.add_metadata("general.name", MetaValue::str("weightmap demo text encoder"));
  w.add_metadata("weightmap.demo_version", MetaValue::u(MetaType::U32, kSampleModelsVersion));
  w.add_metadata("t5encoder.block_count", MetaValue::u(MetaType::U32, static_cast<uint64_t>(std::max(layers, 1))));
  w.add_metadata("t5encoder.embedding_length", MetaValue::u(MetaType::U32, d));
  std::vector<MetaValue> tokens, scores;
  for (uint64_t k = 0; k < 512; ++k) {
    tokens.push_back(MetaValue::str(fmt::format("tok{}", k)));
    scores.push_back(MetaValue::f(MetaType::F32, -static_cast<double>(k) / 8));
  }
  w.add_metadata("tokenizer.ggml.tokens", MetaValue::array(MetaType::STRING, std::move(tokens)));
  w.add_metadata("tokenizer.ggml.scores", MetaValue::array(MetaType::F32, std::move(scores)));

  std::vector<Layer> ts{{"token_embd.weight", DType::F16, {vocab, d}}};
  for (int l = 0; l < std::max(layers, 1); ++l) {
    uint64_t dd = layers > 0 ? d : 64, fff = layers > 0 ? ff : 128;
    std::string p = fmt::format("enc.blk.{}.", l);
    ts.push_back({p + "attn_norm.weight", DType::F32, {dd}});
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_o"}) ts.push_back({p + m + ".weight", DType::Q8_0, {dd, dd}});
    ts.push_back({p + "ffn_norm.weight", DType::F32, {dd}});
    ts.push_back({p + "ffn_up.weight", DType::Q8_0, {fff, dd}});
    ts.push_back({p + "ffn_down.weight", DType::Q8_0, {dd, fff}});
  }
  ts.push_back({"enc.output_norm.weight", DType::F32, {layers > 0 ? d : 64}});
  if (layers == 0) ts.front().shape = {vocab, 64};
  for (auto& t : ts) w.add_tensor(t.name, t.dtype, t.shape, generated(t.dtype, name_seed(t.name), init_scale(t.shape)));
  return w.write(path);
}

Status write_transformer(const std::string& path, int layers) {
  const uint64_t d = layers > 0 ? 1024 : 64, mlp = 4 * d;
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  w.add_metadata("weightmap.demo_version", std::to_string(kSampleModelsVersion));
  std::vector<Layer> ts{{"x_embedder.proj.weight", DType::F32, {d, 64}}, {"x_embedder.proj.bias", DType::F32, {d}}};
  for (int l = 0; l < std::max(layers, 1); ++l) {
    std::string p = fmt::format("transformer_blocks.{}.", l);
    ts.push_back({p + "norm1.weight", DType::F32, {d}});
    ts.push_back({p + "attn.qkv.weight", DType::BF16, {3 * d, d}});
    ts.push_back({p + "attn.qkv.bias", DType::BF16, {3 * d}});
    ts.push_back({p + "attn.proj.weight", DType::BF16, {d, d}});
    ts.push_back({p + "norm2.weight", DType::F32, {d}});
    ts.push_back({p + "mlp.fc1.weight", DType::BF16, {mlp, d}});
    ts.push_back({p + "mlp.fc2.weight", DType::F16, {d, mlp}});
  }
  ts.push_back({"proj_out.weight", DType::F16, {64, d}});
  for (auto& t : ts) w.add_tensor(t.name, t.dtype, t.shape, generated(t.dtype, name_seed(t.name), init_scale(t.shape)));
  return w.write(path);
}

// An existing set is reused when both files parse and carry this version.
bool up_to_date(const SampleModelPaths& paths) {
  auto table = open_model(paths.all());
  if (!table) return false;
  for (const auto& f : table->files()) {
    bool found = false;
    for (const auto& [k, v] : f.metadata)
      if (k == "weightmap.demo_version") found = meta_to_string(v) == std::to_string(kSampleModelsVersion);
    if (!found) return false;
  }
  return true;
}

}  // namespace

float sample_value(uint64_t seed, uint64_t i) {
  uint64_t r = splitmix64(seed ^ splitmix64(i));
  return static_cast<float>(static_cast<int64_t>(r >> 40) - (int64_t{1} << 23)) * (1.0f / 8388608.0f);
}

Result<SampleModelPaths> ensure_sample_models(const std::string& dir, const SampleModelOptions& options,
                                             const Logger& log, bool* reused) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{dir, {}, {}, fmt::format("cannot create folder: {}", ec.message())};
  int layers = options.scale * 8;
  SampleModelPaths paths{dir + "/text_encoder.gguf", dir + "/transformer.safetensors"};
  if (up_to_date(paths)) {
    if (reused) *reused = true;
    return paths;
  }
  if (reused) *reused = false;
  log.info(fmt::format("writing sample models into '{}'", dir));
  if (Status s = write_text_encoder(paths.text_encoder, layers); !s) return s.error();
  if (Status s = write_transformer(paths.transformer, layers); !s) return s.error();
  return paths;
}

}  // namespace wm
