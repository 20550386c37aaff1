// The cuda device (CTest label "gpu"). Without a GPU, or in a build without
// -DWM_CUDA=ON, only the first two tests run: asking for the device fails
// with a reason and a load that names it fails cleanly. With a GPU, every
// byte on the device equals the file (or, converted, the CPU conversion bit
// for bit), staging is pinned, several uploads are in flight, a tensor
// larger than the GPU fails naming it and leaves nothing behind.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "weightmap/weightmap.hpp"

// Test inputs only: files written by the project's writers.
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "lora_test_support.h"
#include "test_support.h"

namespace {

using wm::test::pattern;

// The GPU, or the reason there is none (printed by the skip).
// WM_TEST_GPU_DEVICE=sim runs the GPU tests' checks on the sim device
// instead (scripts/gpu-check.sh --device sim): the tests themselves are
// then checked on a machine without a GPU.
struct Gpu {
  std::shared_ptr<wm::Device> device;
  std::string why_not;
};

bool on_sim() {
  const char* e = std::getenv("WM_TEST_GPU_DEVICE");
  return e && std::string_view(e) == "sim";
}

const Gpu& gpu() {
  static const Gpu g = [] {
    if (on_sim()) return Gpu{wm::make_sim_device(), ""};
    auto d = wm::make_cuda_device(0);
    if (d) return Gpu{d.value(), ""};
    return Gpu{nullptr, d.error().to_string()};
  }();
  return g;
}

#define WM_NEED_GPU()                                          \
  do {                                                         \
    if (!gpu().device) GTEST_SKIP() << "no GPU: " << gpu().why_not; \
  } while (0)

std::vector<std::byte> downloaded(const wm::Model& m, const wm::Tensor& t) {
  std::vector<std::byte> out(t.nbytes);
  wm::Status s = m.device(t.device).download(t.device_buffer, 0, out.data(), out.size());
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return out;
}

// The bytes a tensor has in `m`, wherever they are.
std::vector<std::byte> bytes_of(const wm::Model& m, const wm::Tensor& t) {
  if (t.on_device) return downloaded(m, t);
  return {t.host_data, t.host_data + t.nbytes};
}

// Finite floats of every kind: random bits with the exponent kept below
// the top so F16/BF16/F32 carry no NaN (the CPU and GPU agree on NaNs too,
// but a reference is clearer on numbers).
std::vector<std::byte> finite(wm::DType t, uint64_t elements, uint32_t seed) {
  const uint64_t width = wm::dtype_block_bytes(t);
  std::vector<std::byte> b = pattern(elements * width, seed);
  for (uint64_t i = 0; i < elements; ++i) {
    std::byte& top = b[i * width + width - 1];
    if (t == wm::DType::F16 || t == wm::DType::BF16 || t == wm::DType::F32) top &= std::byte{0xBF};
  }
  return b;
}

// A safetensors file of float tensors, 2-D, a few MiB, shapes not powers of two.
std::string float_model(const wm::test::TempDir& dir) {
  const std::string path = dir.file("floats.safetensors");
  wm::SafetensorsWriter w;
  uint32_t seed = 1;
  for (auto [name, t, rows, cols] : std::vector<std::tuple<std::string, wm::DType, uint64_t, uint64_t>>{
           {"a.f32", wm::DType::F32, 333, 517},
           {"b.f16", wm::DType::F16, 1024, 1000},
           {"c.bf16", wm::DType::BF16, 2048, 777},
           {"d.bf16", wm::DType::BF16, 7, 3},
           {"e.f16", wm::DType::F16, 1, 1}})
    w.add_tensor(name, t, {rows, cols}, wm::TensorData::bytes(finite(t, rows * cols, seed++)));
  wm::Status written = w.write(path);
  EXPECT_TRUE(written.ok()) << written.error().to_string();
  return path;
}

// A GGUF of quantised tensors: random blocks with finite F16 scales.
std::string quant_model(const wm::test::TempDir& dir) {
  const std::string path = dir.file("quants.gguf");
  wm::GgufWriter w;
  uint32_t seed = 10;
  for (auto [name, t] : std::vector<std::pair<std::string, wm::DType>>{
           {"q8", wm::DType::Q8_0}, {"q4", wm::DType::Q4_0}, {"q4k", wm::DType::Q4_K},
           {"q5k", wm::DType::Q5_K}, {"q6k", wm::DType::Q6_K}}) {
    const uint64_t cols = 1024, rows = 96;
    const uint64_t blocks = rows * cols / wm::dtype_block_elems(t);
    std::vector<std::byte> b = pattern(blocks * wm::dtype_block_bytes(t), seed++);
    // Every F16 in a block header: clear the exponent's top bit (finite).
    for (uint64_t i = 0; i < blocks; ++i) {
      std::byte* blk = b.data() + i * wm::dtype_block_bytes(t);
      if (t == wm::DType::Q8_0 || t == wm::DType::Q4_0) blk[1] &= std::byte{0xBF};
      if (t == wm::DType::Q4_K || t == wm::DType::Q5_K) blk[1] &= std::byte{0xBF}, blk[3] &= std::byte{0xBF};
      if (t == wm::DType::Q6_K) blk[wm::dtype_block_bytes(t) - 1] &= std::byte{0xBF};
    }
    w.add_tensor(name, t, {rows, cols}, wm::TensorData::bytes(b));
  }
  wm::Status written = w.write(path);
  EXPECT_TRUE(written.ok()) << written.error().to_string();
  return path;
}

wm::Options on_gpu(const std::string& types = "") {
  wm::Options o;
  if (!on_sim()) o.devices = {gpu().device};  // (sim is built in)
  o.device_rules = "*=" + gpu().device->caps().name;
  o.type_rules = types;
  o.staging_bytes = 4 << 20;  // several slots, so several uploads are in flight
  o.threads = 3;
  return o;
}

wm::Options on_cpu(const std::string& types = "") {
  wm::Options o;
  o.type_rules = types;
  return o;
}

// Every tensor of `got` equals the same tensor of `want`, byte for byte.
void expect_same_bytes(const wm::Model& got, const wm::Model& want) {
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  for (const wm::Tensor& t : got.tensors()) {
    const wm::Tensor* r = want.find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    ASSERT_EQ(t.dtype, r->dtype) << t.name;
    ASSERT_EQ(t.nbytes, r->nbytes) << t.name;
    std::vector<std::byte> a = bytes_of(got, t), b = bytes_of(want, *r);
    size_t first = 0;
    while (first < a.size() && a[first] == b[first]) ++first;
    EXPECT_EQ(first, a.size()) << t.name << " (" << wm::dtype_name(t.dtype) << "): first difference at byte " << first;
  }
}

// --- without a GPU, or without CUDA -----------------------------------------

TEST(CudaDevice, AskingWithoutAGpuFailsWithTheReason) {
  if (gpu().device) GTEST_SKIP() << "a GPU is present: the tests below cover it";
  auto d = wm::make_cuda_device(0);
  ASSERT_FALSE(d.ok());
  const wm::ErrorCode c = d.error().code;
  EXPECT_TRUE(c == (wm::cuda_built_in() ? wm::ErrorCode::kDevice : wm::ErrorCode::kUnsupported) ||
              (wm::cuda_built_in() && c == wm::ErrorCode::kNotFound))
      << d.error().to_string();
  EXPECT_NE(d.error().message.find("cuda"), std::string::npos) << d.error().message;
  if (!wm::cuda_built_in()) {
    EXPECT_NE(d.error().message.find("WM_CUDA"), std::string::npos) << d.error().message;
  }
}

TEST(CudaDevice, ALoadNamingTheGpuFailsCleanlyWithoutOne) {
  if (gpu().device) GTEST_SKIP() << "a GPU is present: the tests below cover it";
  wm::test::TempDir dir;
  wm::Options o;
  o.device_rules = "c.*=cpu,*=cuda:1";
  auto model = wm::open(float_model(dir), o);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("*=cuda:1"), std::string::npos) << model.error().to_string();
}

TEST(CudaDevice, CudaZeroIsCalledCuda) {
  wm::test::TempDir dir;
  wm::Options o;
  o.device_rules = "*=cuda:0";
  auto model = wm::open(float_model(dir), o);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("cuda"), std::string::npos) << model.error().to_string();
}

// --- with a GPU --------------------------------------------------------------

TEST(CudaDevice, EveryByteOnTheGpuEqualsTheFile) {
  WM_NEED_GPU();
  wm::test::TempDir dir;
  for (const std::string& path : {float_model(dir), quant_model(dir)}) {
    auto cpu = wm::open(path, on_cpu());
    ASSERT_TRUE(cpu.ok()) << cpu.error().to_string();
    auto model = wm::open(path, on_gpu());
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    const bool in_place = gpu().device->caps().reads_host_memory;
    for (const wm::Tensor& t : model->tensors()) {
      EXPECT_EQ(t.on_device, !in_place) << t.name;
      EXPECT_EQ(t.placement, in_place ? wm::Placement::kMap : wm::Placement::kCopy) << t.name;
      if (t.on_device) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.device_buffer.handle) % 256, 0u) << t.name;
      }
    }
    expect_same_bytes(*model, *cpu);
    const wm::LoadReport r = model->report();
    if (!in_place) {  // braces: EXPECT_* expand to an if
      EXPECT_EQ(r.device_bytes, r.bytes_total);
      if (!on_sim()) {
        EXPECT_GT(r.staging_device_bytes, 0u) << "staging was not pinned";
      }
    }
  }
}

TEST(CudaDevice, ConversionsOnTheGpuEqualTheCpuBitForBit) {
  WM_NEED_GPU();
  wm::test::TempDir dir;
  const std::string floats = float_model(dir), quants = quant_model(dir);
  for (const auto& [path, types] : std::vector<std::pair<std::string, std::string>>{
           {floats, "F16"}, {floats, "BF16"}, {floats, "F32"}, {quants, "F32"}, {quants, "F16"}, {quants, "BF16"}}) {
    SCOPED_TRACE(path + " as " + types);
    auto cpu = wm::open(path, on_cpu(types));
    ASSERT_TRUE(cpu.ok()) << cpu.error().to_string();
    auto model = wm::open(path, on_gpu(types));
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    expect_same_bytes(*model, *cpu);
  }
}

TEST(CudaDevice, ATensorLargerThanTheGpuFailsNamingItAndLeavesNothing) {
  WM_NEED_GPU();
  // A sparse file: a header promising a tensor of twice the GPU's memory.
  wm::test::TempDir dir;
  const std::string path = dir.file("huge.safetensors");
  // 160 GiB of F16: more than any single GPU has today.
  const uint64_t cols = 1ull << 20, rows = (160ull << 30) / (2 * cols);
  const uint64_t nbytes = rows * cols * 2;
  std::string header = "{\"small\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                       "\"huge\":{\"dtype\":\"F16\",\"shape\":[" + std::to_string(rows) + "," + std::to_string(cols) +
                       "],\"data_offsets\":[4," + std::to_string(4 + nbytes) + "]}}";
  while ((header.size() + 8) % 8) header += ' ';
  {
    std::ofstream f(path, std::ios::binary);
    uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header;
  }
  std::filesystem::resize_file(path, 8 + header.size() + 4 + nbytes);
  auto model = wm::open(path, on_gpu());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().tensor, "huge") << model.error().to_string();
  EXPECT_TRUE(model.error().code == wm::ErrorCode::kOutOfMemory || model.error().code == wm::ErrorCode::kDevice)
      << model.error().to_string();
  // Nothing half-loaded: the same device loads a model afterwards.
  auto after = wm::open(float_model(dir), on_gpu());
  EXPECT_TRUE(after.ok()) << after.error().to_string();
}

// LoRA immediately on cuda tensors: patched by a kernel in the GPU's memory,
// bit for bit what the CPU's patch of a host copy gives.
TEST(CudaDevice, LoraPatchesOnTheGpuAsTheCpuDoes) {
  WM_NEED_GPU();
  namespace lt = wm::lora_test;
  wm::test::TempDir dir;
  const std::string base = dir.file("base.safetensors");
  std::vector<lt::Factors> factors;
  std::vector<lt::LoraEntry> entries;
  factors.reserve(3);
  wm::SafetensorsWriter w;
  uint32_t seed = 1;
  for (auto [stem, t, rows, cols] : std::vector<std::tuple<std::string, wm::DType, uint64_t, uint64_t>>{
           {"a", wm::DType::F32, 333, 517}, {"b", wm::DType::F16, 1024, 1000}, {"c", wm::DType::BF16, 2048, 777}}) {
    w.add_tensor(stem + ".weight", t, {rows, cols}, wm::TensorData::bytes(finite(t, rows * cols, seed++)));
    factors.push_back(lt::random_factors(rows, cols, 8, rows));
    entries.push_back({stem, lt::Convention::kPeft, &factors.back(), {rows, cols}});
  }
  ASSERT_TRUE(w.write(base).ok());
  lt::write_lora_safetensors(dir.file("lora.safetensors"), entries);
  for (const std::string& types : {std::string(), std::string("F16")}) {
    SCOPED_TRACE("types '" + types + "'");
    wm::Options g = on_gpu(types), c = on_cpu(types);
    c.use_mmap = false;  // a host copy: patched by the CPU in place
    for (wm::Options* o : {&g, &c}) {
      o->loras = {{dir.file("lora.safetensors"), 0.8f}};
      o->lora.mode = wm::LoraApplyMode::kImmediately;
    }
    auto gm = wm::open(base, g);
    ASSERT_TRUE(gm.ok()) << gm.error().to_string();
    auto cm = wm::open(base, c);
    ASSERT_TRUE(cm.ok()) << cm.error().to_string();
    ASSERT_NE(gm->lora_report(), nullptr);
    expect_same_bytes(*gm, *cm);
  }
}

TEST(CudaDevice, RulesMakeTheDeviceByThemselves) {
  WM_NEED_GPU();
  if (on_sim()) GTEST_SKIP() << "cuda only";
  wm::test::TempDir dir;
  wm::Options o;
  o.device_rules = "c.*=cpu,*=cuda";
  auto model = wm::open(float_model(dir), o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(model->find("c.bf16")->device, 0u);
  EXPECT_EQ(model->devices()[model->find("a.f32")->device].name, "cuda");
}

}  // namespace
