// An engine as it uses an installed weightmap: the public header only, C++17.
// Built three ways by the consumer tests (find_package, pkg-config,
// add_subdirectory). It writes a small safetensors model and a LoRA for it
// with its own writer, opens the model, checks every tensor's bytes (through
// host_data, and in the file at file_offset), applies the LoRA at once,
// re-points exactly the tensors the report says moved and checks
// W + scale * up @ down, removes the LoRA and checks the original values.
//   app [WORK_DIR]     prints "consumer ok" and returns 0, or what failed and 1
#include <weightmap/weightmap.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

int failures = 0;

void fail(const std::string& what) {
  std::printf("FAIL: %s\n", what.c_str());
  ++failures;
}

// --- a minimal safetensors writer (the format's spec: 8-byte little-endian
// header length, JSON header, raw little-endian bytes) ---
struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F16"
  std::vector<uint64_t> shape;
  std::vector<unsigned char> bytes;
};

// Writes `tensors` in order; returns the data start (8 + header length).
uint64_t write_safetensors(const std::string& path, const std::vector<StTensor>& tensors) {
  std::string header = "{";
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    if (header.size() > 1) header += ",";
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  header += "}";
  while ((8 + header.size()) % 64 != 0) header += ' ';  // pad: tensor data 64-byte aligned in the file
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  for (const StTensor& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  if (!out) fail("cannot write " + path);
  return 8 + n;
}

std::vector<unsigned char> f32_bytes(const std::vector<float>& v) {
  std::vector<unsigned char> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());  // little-endian host (x86-64, aarch64)
  return b;
}

// IEEE half for values that are exactly representable and normal (or zero).
uint16_t to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  if ((x & 0x7fffffff) == 0) return sign;
  int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  return static_cast<uint16_t>(sign | (exp << 10) | ((x >> 13) & 0x3ff));
}

float read_f32(const std::byte* p, size_t i) {
  float f;
  std::memcpy(&f, p + 4 * i, 4);
  return f;
}

std::vector<unsigned char> file_bytes(const std::string& path, uint64_t offset, uint64_t n) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<unsigned char> b(n);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(n));
  if (!in) b.clear();
  return b;
}

bool same_bytes(const std::byte* p, const std::vector<unsigned char>& want) {
  return p != nullptr && std::memcmp(p, want.data(), want.size()) == 0;
}

constexpr uint64_t kRows = 64, kCols = 32, kRank = 4;
constexpr uint64_t kHalfRows = 32, kHalfCols = 16;
constexpr float kAlpha = 2.0f, kStrength = 0.75f;
const char* const kF32Name = "model.diffusion_model.blocks.0.proj.weight";
const char* const kF16Name = "model.diffusion_model.blocks.0.norm.weight";
// kohya-ss spelling: lora_unet_ + the base path with dots read as underscores.
const char* const kLoraStem = "lora_unet_blocks_0_proj";

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? std::string(argv[1]) + "/" : std::string();
  const std::string model_path = dir + "consumer_model.safetensors";
  const std::string lora_path = dir + "consumer_lora.safetensors";

  if (std::strcmp(wm::version(), WEIGHTMAP_VERSION_STRING) != 0)
    fail(std::string("library version ") + wm::version() + " != header version " + WEIGHTMAP_VERSION_STRING);

  // --- the model: an F32 64x32 matrix and an F16 32x16 one ---
  std::vector<float> w(kRows * kCols);
  for (uint64_t r = 0; r < kRows; ++r)
    for (uint64_t c = 0; c < kCols; ++c) w[r * kCols + c] = static_cast<float>(static_cast<int>((r * 31 + c * 7) % 97) - 48) / 64.0f;
  std::vector<unsigned char> half(kHalfRows * kHalfCols * 2);
  for (uint64_t i = 0; i < kHalfRows * kHalfCols; ++i) {
    uint16_t h = to_half(static_cast<float>(static_cast<int>(i % 64) - 32) / 16.0f);
    half[2 * i] = static_cast<unsigned char>(h & 0xff);
    half[2 * i + 1] = static_cast<unsigned char>(h >> 8);
  }
  std::map<std::string, std::vector<unsigned char>> written = {{kF32Name, f32_bytes(w)}, {kF16Name, half}};
  write_safetensors(model_path, {{kF32Name, "F32", {kRows, kCols}, written[kF32Name]},
                                 {kF16Name, "F16", {kHalfRows, kHalfCols}, written[kF16Name]}});

  // --- the LoRA: down (rank x cols), up (rows x rank), alpha ---
  std::vector<float> down(kRank * kCols), up(kRows * kRank);
  for (uint64_t k = 0; k < kRank; ++k)
    for (uint64_t c = 0; c < kCols; ++c) down[k * kCols + c] = static_cast<float>(static_cast<int>((k * 13 + c * 5) % 23) - 11) / 32.0f;
  for (uint64_t r = 0; r < kRows; ++r)
    for (uint64_t k = 0; k < kRank; ++k) up[r * kRank + k] = static_cast<float>(static_cast<int>((r * 3 + k * 11) % 19) - 9) / 16.0f;
  const std::string stem = kLoraStem;
  write_safetensors(lora_path, {{stem + ".lora_down.weight", "F32", {kRank, kCols}, f32_bytes(down)},
                                {stem + ".lora_up.weight", "F32", {kRows, kRank}, f32_bytes(up)},
                                {stem + ".alpha", "F32", {}, f32_bytes({kAlpha})}});
  if (failures) return 1;

  // --- open, and check every tensor ---
  wm::Options options;
  std::vector<std::string> log;
  options.log = [&log](wm::LogLevel level, std::string_view m) {
    if (level >= wm::LogLevel::kWarn) log.push_back(std::string(wm::to_string(level)) + ": " + std::string(m));
  };
  wm::Result<wm::Model> opened = wm::open(model_path, options);
  if (!opened) {
    std::printf("FAIL: open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  wm::Model model = std::move(opened).value();
  if (model.size() != 2) fail("expected 2 tensors, got " + std::to_string(model.size()));
  // What an engine keeps: a pointer per tensor.
  std::vector<const std::byte*> ptr(model.size());
  for (size_t i = 0; i < model.size(); ++i) {
    const wm::Tensor& t = model.tensor(i);
    if (wm::Status s = model.wait_ready(i); !s) fail("wait_ready " + t.name + ": " + s.error().to_string());
    auto want = written.find(t.name);
    if (want == written.end()) {
      fail("unexpected tensor " + t.name);
      continue;
    }
    if (t.nbytes != want->second.size()) fail(t.name + ": nbytes " + std::to_string(t.nbytes));
    if (t.placement != wm::Placement::kMap)
      fail(t.name + ": placement " + wm::placement_name(t.placement) + " (" + t.reason + "), expected map");
    if (!same_bytes(t.host_data, want->second)) fail(t.name + ": host_data differs from the bytes written");
    if (file_bytes(model.file_path(t.file), t.file_offset, t.nbytes) != want->second)
      fail(t.name + ": the file at file_offset " + std::to_string(t.file_offset) + " differs from the bytes written");
    ptr[i] = t.host_data;
  }
  std::optional<size_t> wi = model.index_of(kF32Name), hi = model.index_of(kF16Name);
  if (!wi || !hi || model.find(kF32Name) == nullptr) {
    fail("index_of/find cannot find the tensors");
    return 1;
  }
  if (model.tensor(*wi).dtype != wm::DType::F32 || model.tensor(*hi).dtype != wm::DType::F16) fail("dtypes");
  if (model.tensor(*wi).shape != std::vector<uint64_t>{kRows, kCols}) fail("shape of " + std::string(kF32Name));

  // --- apply the LoRA now; re-point exactly the tensors that moved ---
  const uint64_t gen0 = model.generation();
  wm::LoraOptions lora_options;
  lora_options.mode = wm::LoraApplyMode::kImmediately;
  wm::Result<wm::LoraReport> applied = model.apply_loras({{lora_path, kStrength}}, lora_options);
  if (!applied) {
    std::printf("FAIL: apply_loras: %s\n", applied.error().to_string().c_str());
    return 1;
  }
  const wm::LoraReport& report = applied.value();
  for (const wm::UnmatchedLora& u : report.unmatched) fail("unmatched LoRA tensor " + u.tensor + ": " + u.reason);
  if (report.tensors_patched != 1 || report.tensors.size() != 1 || report.tensors[0].tensor != *wi ||
      report.tensors[0].action != wm::LoraAction::kPatched)
    fail("LoRA report: expected exactly " + std::string(kF32Name) + " patched");
  if (std::find(report.moved.begin(), report.moved.end(), *wi) == report.moved.end())
    fail("LoraReport::moved lacks the mapped, patched tensor");
  for (size_t i : report.moved) ptr.at(i) = model.tensor(i).host_data;
  const uint64_t gen1 = model.generation();
  if (gen1 <= gen0) fail("generation() did not increase on apply_loras");
  if (model.tensor(*wi).generation != gen1) fail("Tensor::generation of the patched tensor");

  const double scale = static_cast<double>(kStrength) * kAlpha / static_cast<double>(kRank);
  size_t bad = 0;
  for (uint64_t r = 0; r < kRows; ++r) {
    for (uint64_t c = 0; c < kCols; ++c) {
      double want = w[r * kCols + c];
      for (uint64_t k = 0; k < kRank; ++k)
        want += scale * static_cast<double>(up[r * kRank + k]) * static_cast<double>(down[k * kCols + c]);
      double got = read_f32(ptr[*wi], r * kCols + c);
      if (std::fabs(got - want) > 1e-5 * std::max(1.0, std::fabs(want)) && bad++ < 5)
        fail("patched [" + std::to_string(r) + "," + std::to_string(c) + "] = " + std::to_string(got) + ", expected " +
             std::to_string(want));
    }
  }
  if (!same_bytes(ptr[*hi], written[kF16Name])) fail("the F16 tensor changed under the LoRA");
  if (file_bytes(model_path, model.tensor(*wi).file_offset, kRows * kCols * 4) != written[kF32Name])
    fail("the LoRA wrote through to the model file");

  // --- remove it: the returned tensors move back to the original bytes ---
  wm::Result<std::vector<size_t>> removed = model.remove_loras();
  if (!removed) {
    std::printf("FAIL: remove_loras: %s\n", removed.error().to_string().c_str());
    return 1;
  }
  for (size_t i : removed.value()) ptr.at(i) = model.tensor(i).host_data;
  if (model.generation() <= gen1) fail("generation() did not increase on remove_loras");
  if (model.lora_report() != nullptr) fail("lora_report() after remove_loras");
  for (size_t i = 0; i < model.size(); ++i)
    if (!same_bytes(ptr[i], written[model.tensor(i).name])) fail(model.tensor(i).name + ": not the original bytes after remove_loras");

  if (wm::Status s = model.release(); !s) fail("release: " + s.error().to_string());
  if (failures) {
    for (const std::string& line : log) std::printf("  log %s\n", line.c_str());
    return 1;
  }
  std::printf("consumer ok (weightmap %s)\n", wm::version());
  return 0;
}
