#include "bench_models.h"

#include <fmt/format.h>

#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"

namespace wm::bench {
namespace {

using Shape = std::vector<uint64_t>;

// A llama-style layout (GGUF names). `matrix(role, layer)` is the dtype of
// each weight matrix; norms are F32.
struct LlamaGeometry {
  uint64_t dim, kv, ffn, vocab;
  int layers;
};
constexpr LlamaGeometry kTinyLlama{2048, 256, 5632, 32000, 22};  // TinyLlama-1.1B
constexpr LlamaGeometry kLlama3_8B{4096, 1024, 14336, 128256, 32};

template <class MatrixType>
std::vector<BenchTensor> llama_layout(const LlamaGeometry& g, MatrixType matrix) {
  std::vector<BenchTensor> t;
  t.push_back({"token_embd.weight", matrix("token_embd", 0), {g.vocab, g.dim}});
  for (int l = 0; l < g.layers; ++l) {
    auto n = [l](const char* s) { return fmt::format("blk.{}.{}.weight", l, s); };
    t.push_back({n("attn_norm"), DType::F32, {g.dim}});
    t.push_back({n("attn_q"), matrix("attn_q", l), {g.dim, g.dim}});
    t.push_back({n("attn_k"), matrix("attn_k", l), {g.kv, g.dim}});
    t.push_back({n("attn_v"), matrix("attn_v", l), {g.kv, g.dim}});
    t.push_back({n("attn_output"), matrix("attn_output", l), {g.dim, g.dim}});
    t.push_back({n("ffn_norm"), DType::F32, {g.dim}});
    t.push_back({n("ffn_gate"), matrix("ffn_gate", l), {g.ffn, g.dim}});
    t.push_back({n("ffn_up"), matrix("ffn_up", l), {g.ffn, g.dim}});
    t.push_back({n("ffn_down"), matrix("ffn_down", l), {g.dim, g.ffn}});
  }
  t.push_back({"output_norm.weight", DType::F32, {g.dim}});
  t.push_back({"output.weight", matrix("output", 0), {g.vocab, g.dim}});
  return t;
}

// llama.cpp's Q4_K_M rules (llama_tensor_get_type): Q6_K for the output, and
// for attn_v and ffn_down on the layers use_more_bits() picks (the first and
// last eighth, every third between); Q4_K for every other matrix.
std::vector<BenchTensor> q4_k_m(const LlamaGeometry& g) {
  auto use_more_bits = [n = g.layers](int i) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; };
  return llama_layout(g, [&](std::string_view role, int layer) {
    if (role == "output") return DType::Q6_K;
    if ((role == "attn_v" || role == "ffn_down") && use_more_bits(layer)) return DType::Q6_K;
    return DType::Q4_K;
  });
}

// Helpers for the diffusers layouts (F16 throughout, as SD 1.5 checkpoints ship).
struct Layout {
  std::vector<BenchTensor> t;
  void add(std::string name, Shape shape) { t.push_back({std::move(name), DType::F16, std::move(shape)}); }
  void linear(const std::string& p, uint64_t out, uint64_t in, bool bias = true) {
    add(p + ".weight", {out, in});
    if (bias) add(p + ".bias", {out});
  }
  void conv(const std::string& p, uint64_t out, uint64_t in, uint64_t k) {
    add(p + ".weight", {out, in, k, k});
    add(p + ".bias", {out});
  }
  void norm(const std::string& p, uint64_t c) {
    add(p + ".weight", {c});
    add(p + ".bias", {c});
  }
  // A ResnetBlock2D; temb = 0 for the VAE's (no time embedding).
  void resnet(const std::string& p, uint64_t in, uint64_t out, uint64_t temb) {
    norm(p + ".norm1", in);
    conv(p + ".conv1", out, in, 3);
    if (temb) linear(p + ".time_emb_proj", out, temb);
    norm(p + ".norm2", out);
    conv(p + ".conv2", out, out, 3);
    if (in != out) conv(p + ".conv_shortcut", out, in, 1);
  }
  // A Transformer2DModel of SD 1.5: 1x1 conv projections, self- and
  // cross-attention (context 768), GEGLU feed-forward.
  void transformer(const std::string& p, uint64_t c) {
    norm(p + ".norm", c);
    conv(p + ".proj_in", c, c, 1);
    std::string b = p + ".transformer_blocks.0";
    for (const char* a : {".attn1", ".attn2"}) {
      uint64_t ctx = std::string(a) == ".attn1" ? c : 768;
      linear(b + a + ".to_q", c, c, false);
      linear(b + a + ".to_k", c, ctx, false);
      linear(b + a + ".to_v", c, ctx, false);
      linear(b + a + ".to_out.0", c, c);
    }
    norm(b + ".norm1", c);
    norm(b + ".norm2", c);
    norm(b + ".norm3", c);
    linear(b + ".ff.net.0.proj", 8 * c, c);
    linear(b + ".ff.net.2", c, 4 * c);
    conv(p + ".proj_out", c, c, 1);
  }
  // The VAE's mid-block attention: linear projections.
  void vae_attention(const std::string& p, uint64_t c) {
    add(p + ".group_norm.weight", {c});
    add(p + ".group_norm.bias", {c});
    for (const char* s : {".to_q", ".to_k", ".to_v", ".to_out.0"}) linear(p + s, c, c);
  }
};

// The SD 1.5 UNet (diffusers UNet2DConditionModel, 860M parameters).
std::vector<BenchTensor> sd_unet() {
  Layout u;
  const uint64_t ch[] = {320, 640, 1280, 1280}, temb = 1280;
  u.conv("conv_in", 320, 4, 3);
  u.linear("time_embedding.linear_1", temb, 320);
  u.linear("time_embedding.linear_2", temb, temb);
  std::vector<uint64_t> skips = {320};
  uint64_t prev = 320;
  for (int b = 0; b < 4; ++b) {
    for (int r = 0; r < 2; ++r) {
      u.resnet(fmt::format("down_blocks.{}.resnets.{}", b, r), prev, ch[b], temb);
      prev = ch[b];
      if (b < 3) u.transformer(fmt::format("down_blocks.{}.attentions.{}", b, r), prev);
      skips.push_back(prev);
    }
    if (b < 3) {
      u.conv(fmt::format("down_blocks.{}.downsamplers.0.conv", b), prev, prev, 3);
      skips.push_back(prev);
    }
  }
  u.resnet("mid_block.resnets.0", 1280, 1280, temb);
  u.transformer("mid_block.attentions.0", 1280);
  u.resnet("mid_block.resnets.1", 1280, 1280, temb);
  for (int b = 0; b < 4; ++b) {
    uint64_t out = ch[3 - b];
    for (int r = 0; r < 3; ++r) {
      uint64_t skip = skips.back();
      skips.pop_back();
      u.resnet(fmt::format("up_blocks.{}.resnets.{}", b, r), prev + skip, out, temb);
      prev = out;
      if (b > 0) u.transformer(fmt::format("up_blocks.{}.attentions.{}", b, r), out);
    }
    if (b < 3) u.conv(fmt::format("up_blocks.{}.upsamplers.0.conv", b), out, out, 3);
  }
  u.norm("conv_norm_out", 320);
  u.conv("conv_out", 4, 320, 3);
  return u.t;
}

// The SD 1.5 VAE (AutoencoderKL, 84M parameters).
std::vector<BenchTensor> sd_vae() {
  Layout v;
  const uint64_t ch[] = {128, 256, 512, 512};
  v.conv("encoder.conv_in", 128, 3, 3);
  uint64_t prev = 128;
  for (int b = 0; b < 4; ++b) {
    for (int r = 0; r < 2; ++r) {
      v.resnet(fmt::format("encoder.down_blocks.{}.resnets.{}", b, r), prev, ch[b], 0);
      prev = ch[b];
    }
    if (b < 3) v.conv(fmt::format("encoder.down_blocks.{}.downsamplers.0.conv", b), prev, prev, 3);
  }
  for (const char* side : {"encoder", "decoder"}) {
    if (std::string(side) == "decoder") v.conv("decoder.conv_in", 512, 4, 3);
    v.resnet(fmt::format("{}.mid_block.resnets.0", side), 512, 512, 0);
    v.vae_attention(fmt::format("{}.mid_block.attentions.0", side), 512);
    v.resnet(fmt::format("{}.mid_block.resnets.1", side), 512, 512, 0);
    if (std::string(side) == "encoder") {
      v.norm("encoder.conv_norm_out", 512);
      v.conv("encoder.conv_out", 8, 512, 3);
    }
  }
  prev = 512;
  for (int b = 0; b < 4; ++b) {
    uint64_t out = ch[3 - b];
    for (int r = 0; r < 3; ++r) {
      v.resnet(fmt::format("decoder.up_blocks.{}.resnets.{}", b, r), prev, out, 0);
      prev = out;
    }
    if (b < 3) v.conv(fmt::format("decoder.up_blocks.{}.upsamplers.0.conv", b), out, out, 3);
  }
  v.norm("decoder.conv_norm_out", 128);
  v.conv("decoder.conv_out", 3, 128, 3);
  v.conv("quant_conv", 8, 8, 1);
  v.conv("post_quant_conv", 4, 4, 1);
  return v.t;
}

// The CLIP ViT-L/14 text encoder of SD 1.5 (123M parameters).
std::vector<BenchTensor> clip_text() {
  Layout c;
  const uint64_t d = 768;
  c.add("text_model.embeddings.token_embedding.weight", {49408, d});
  c.add("text_model.embeddings.position_embedding.weight", {77, d});
  for (int l = 0; l < 12; ++l) {
    std::string p = fmt::format("text_model.encoder.layers.{}", l);
    for (const char* s : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.out_proj"})
      c.linear(p + s, d, d);
    c.norm(p + ".layer_norm1", d);
    c.linear(p + ".mlp.fc1", 4 * d, d);
    c.linear(p + ".mlp.fc2", d, 4 * d);
    c.norm(p + ".layer_norm2", d);
  }
  c.norm("text_model.final_layer_norm", d);
  return c.t;
}

}  // namespace

TensorData pattern(uint64_t seed) {
  return {[seed](uint64_t offset, std::span<std::byte> out) {
    for (size_t k = 0; k < out.size(); ++k)
      out[k] = static_cast<std::byte>(((offset + k) * 131 + seed * 7) >> 3 & 0x3f);
  }};
}

void add_vocab(GgufWriter& w, int vocab, int merge_count) {
  std::vector<MetaValue> tokens, scores, types, merges;
  for (int k = 0; k < vocab; ++k) {
    tokens.push_back(MetaValue::str(fmt::format("tok_{}", k)));
    scores.push_back(MetaValue::f(MetaType::F32, -k * 0.01));
    types.push_back(MetaValue::i(MetaType::I32, 1));
    if (k < merge_count) merges.push_back(MetaValue::str(fmt::format("t{} o{}", k % 977, k)));
  }
  w.add_metadata("tokenizer.ggml.tokens", MetaValue::array(MetaType::STRING, std::move(tokens)));
  w.add_metadata("tokenizer.ggml.scores", MetaValue::array(MetaType::F32, std::move(scores)));
  w.add_metadata("tokenizer.ggml.token_type", MetaValue::array(MetaType::I32, std::move(types)));
  w.add_metadata("tokenizer.ggml.merges", MetaValue::array(MetaType::STRING, std::move(merges)));
}

const std::vector<std::string>& bench_model_kinds() {
  static const std::vector<std::string> kinds = {"llama-f16", "sd-unet-f16", "sd-vae-f16", "clip-f16", "llama-q4k",
                                                  "llama3-q4km"};
  return kinds;
}

BenchModel bench_model(std::string_view kind) {
  if (kind == "llama-f16") return {"llama-f16", "gguf", llama_layout(kTinyLlama, [](std::string_view, int) { return DType::F16; })};
  if (kind == "llama-q4k") return {"llama-q4k", "gguf", q4_k_m(kTinyLlama)};
  if (kind == "llama3-q4km") {
    LlamaGeometry g = kLlama3_8B;
    g.layers = 18;  // of 32: about 3 GB
    return {"llama3-q4km", "gguf", q4_k_m(g), static_cast<int>(g.vocab), 280147};  // Llama 3's merges
  }
  if (kind == "sd-unet-f16") return {"sd-unet-f16", "safetensors", sd_unet()};
  if (kind == "sd-vae-f16") return {"sd-vae-f16", "safetensors", sd_vae()};
  if (kind == "clip-f16") return {"clip-f16", "safetensors", clip_text()};
  return {std::string(kind), "", {}};
}

Status write_bench_model(const BenchModel& model, const std::string& path) {
  uint64_t seed = 0;
  if (model.format == "gguf") {
    GgufWriter w(3, 32);
    w.add_metadata("general.architecture", MetaValue::str("llama"));
    w.add_metadata("general.name", MetaValue::str("weightmap benchmark " + model.kind));
    if (model.vocab) add_vocab(w, model.vocab, model.merges);
    for (const BenchTensor& t : model.tensors) w.add_tensor(t.name, t.dtype, t.shape, pattern(++seed));
    return w.write(path);
  }
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  for (const BenchTensor& t : model.tensors) w.add_tensor(t.name, t.dtype, t.shape, pattern(++seed));
  return w.write(path);
}

uint64_t bench_model_bytes(const BenchModel& model) {
  uint64_t total = 0;
  for (const BenchTensor& t : model.tensors) total += tensor_nbytes(t.dtype, t.shape).nbytes.value_or(0);
  return total;
}

}  // namespace wm::bench
