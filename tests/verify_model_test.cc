// verify_model: a correctly loaded model (mapped, copied, on the sim device,
// offloaded, converted) verifies clean; a corrupted loaded buffer, a
// corrupted device buffer, a wrong converted value and a file rewritten
// after a copying load are each caught and named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"
#include "verify/verify.h"
#include "verify/verify_reference.h"

namespace wm {
namespace {

using test::TempDir;

struct Spec {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
};

const std::vector<Spec> kGguf = {
    {"w_f32", DType::F32, {6, 40}}, {"w_f16", DType::F16, {5, 33}}, {"w_bf16", DType::BF16, {70}},
    {"w_q8", DType::Q8_0, {4, 96}}, {"w_q4", DType::Q4_0, {3, 64}}, {"ids", DType::I32, {9}},
};
const std::vector<Spec> kSafetensors = {
    {"s_bf16", DType::BF16, {3}},    // odd size: what follows is unaligned
    {"s_f32", DType::F32, {2, 5}},   // copied on the cpu (unaligned)
    {"s_i64", DType::I64, {5}},
    {"s_f64", DType::F64, {7}},
};
// A conversion for every (source, target) pair the reference knows that the loader does.
const char* kConvertRules = "w_f32=BF16,w_f16=F32,w_bf16=F16,w_q8=F16,w_q4=F32,s_bf16=F32,s_i64=I32,s_f64=F32";

uint64_t elems(const std::vector<uint64_t>& s) {
  return std::accumulate(s.begin(), s.end(), uint64_t{1}, std::multiplies<>());
}

std::vector<std::byte> bytes_for(const Spec& s, uint64_t seed) {
  if (s.dtype == DType::I64 || s.dtype == DType::F64) {
    std::vector<std::byte> b(elems(s.shape) * 8);
    for (uint64_t k = 0; k < elems(s.shape); ++k) {
      int64_t i = static_cast<int64_t>(k * 1000003) - 7;
      double d = 1.0 / 3.0 * static_cast<double>(k) + 1e-9;  // not exact in F32: rounding is checked
      if (s.dtype == DType::I64) std::memcpy(b.data() + 8 * k, &i, 8);
      else std::memcpy(b.data() + 8 * k, &d, 8);
    }
    return b;
  }
  if (s.dtype == DType::I32) return test::pattern(elems(s.shape) * 4, static_cast<uint32_t>(seed));
  uint64_t cols = s.shape.back();
  return test::random_weights(s.dtype, elems(s.shape) / cols, cols, seed);
}

std::vector<std::string> write_model(const TempDir& dir) {
  GgufWriter g(3, 32);
  uint64_t seed = 1;
  for (const auto& s : kGguf) g.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(bytes_for(s, seed++)));
  SafetensorsWriter st;
  for (const auto& s : kSafetensors) st.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(bytes_for(s, seed++)));
  std::vector<std::string> paths = {dir.file("m.gguf"), dir.file("m.safetensors")};
  EXPECT_TRUE(g.write(paths[0]).ok());
  EXPECT_TRUE(st.write(paths[1]).ok());
  return paths;
}

LoadedModel load(const std::vector<std::string>& paths, const std::string& devices = "", const std::string& types = "",
           bool mmap = true, bool offload = false) {
  auto table = open_model(paths);
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  LoadOptions o;
  o.plan.use_mmap = mmap;
  o.plan.offload_to_cpu = offload;
  auto d = NameRules::parse(devices);
  auto t = NameRules::parse(types);
  EXPECT_TRUE(d.ok() && t.ok());
  o.plan.device_rules = d.value();
  o.plan.type_rules = t.value();
  auto model = load_model(std::move(table.value()), o);
  EXPECT_TRUE(model.ok()) << model.error().to_string();
  return std::move(model.value());
}

VerifyReport verify(const LoadedModel& model, uint64_t chunk = 8ull << 20) {
  VerifyOptions o;
  o.chunk_bytes = chunk;
  auto r = verify_model(model, o);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? std::move(r.value()) : VerifyReport{};
}

const TensorVerdict& verdict(const VerifyReport& r, const std::string& name) {
  for (const auto& v : r.tensors)
    if (v.name == name) return v;
  static TensorVerdict none;
  ADD_FAILURE() << "no verdict for " << name;
  return none;
}

TEST(Verify, CleanLoadsVerifyWhateverThePath) {
  TempDir dir;
  auto paths = write_model(dir);
  struct Case {
    const char* what;
    LoadedModel model;
  };
  Case cases[] = {{"mapped", load(paths)},
                  {"copied", load(paths, "", "", false)},
                  {"sim device", load(paths, "*=sim")},
                  {"offloaded", load(paths, "*=sim", "", true, true)},
                  {"converted", load(paths, "", kConvertRules)},
                  {"converted on sim", load(paths, "*=sim", kConvertRules)}};
  for (const Case& c : cases) {
    for (uint64_t chunk : {8ull << 20, 100ull}) {  // 100 bytes: many chunks, partial blocks never
      SCOPED_TRACE(testing::Message() << c.what << ", chunk " << chunk);
      VerifyReport r = verify(c.model, chunk);
      EXPECT_TRUE(r.ok());
      EXPECT_EQ(r.failed, 0u);
      EXPECT_EQ(r.skipped, 0u);
      ASSERT_EQ(r.tensors.size(), kGguf.size() + kSafetensors.size());
      uint64_t bytes = 0;
      for (size_t i = 0; i < r.tensors.size(); ++i) {
        const TensorVerdict& v = r.tensors[i];
        const Tensor& t = c.model.tensors()[i];
        bool converted = t.dtype != c.model.table().tensors()[i].dtype;
        EXPECT_EQ(v.name, t.name);
        EXPECT_TRUE(v.ok) << v.name << ": " << v.detail;
        EXPECT_EQ(v.check, converted ? VerifyCheck::kValues : VerifyCheck::kBytes) << v.name;
        if (!converted) {
          EXPECT_EQ(v.loaded_xxh3, v.file_xxh3) << v.name;
        }
        bytes += t.nbytes;
      }
      EXPECT_EQ(r.bytes_compared, bytes);
    }
  }
}

TEST(Verify, CorruptedHostCopyIsCaughtAndNamed) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", "", false);  // host copies: writable buffers
  const Tensor* t = model.find("w_q8");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->placement, Placement::kCopy);
  const_cast<std::byte*>(t->host_data)[40] ^= std::byte{0x10};  // simulates a bad copy
  VerifyReport r = verify(model, 64);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 1u);
  const TensorVerdict& v = verdict(r, "w_q8");
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.loaded_xxh3, v.file_xxh3);
  EXPECT_NE(v.detail.find("tensor byte 40"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find(std::to_string(t->file_offset + 40)), std::string::npos) << v.detail;
  EXPECT_TRUE(verdict(r, "w_q4").ok);
}

TEST(Verify, CorruptedDeviceBufferIsCaught) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "*=sim");
  const Tensor* t = model.find("s_f32");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->on_device);
  std::byte junk[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  model.device(t->device).upload(t->device_buffer, t->nbytes - 4, junk, 4, [](Status) {});
  ASSERT_TRUE(model.device(t->device).synchronize().ok());
  VerifyReport r = verify(model);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_FALSE(verdict(r, "s_f32").ok);
}

TEST(Verify, WrongConvertedValueIsCaught) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", kConvertRules);
  const Tensor* t = model.find("w_q4");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->dtype, DType::F32);
  float v;
  std::memcpy(&v, t->host_data + 4 * 77, 4);
  v = std::nextafter(v, std::numeric_limits<float>::infinity());  // one ulp off
  std::memcpy(const_cast<std::byte*>(t->host_data) + 4 * 77, &v, 4);
  VerifyReport r = verify(model, 100);
  EXPECT_EQ(r.failed, 1u);
  const TensorVerdict& bad = verdict(r, "w_q4");
  EXPECT_EQ(bad.check, VerifyCheck::kValues);
  EXPECT_EQ(bad.bad_values, 1u);
  EXPECT_NE(bad.detail.find("element 77"), std::string::npos) << bad.detail;
}

TEST(Verify, FileRewrittenAfterACopyingLoadIsCaught) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", "", false);
  const Tensor* t = model.find("w_f16");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(test::write_at(paths[0], t->file_offset + 3, {std::byte{0x55}}));
  VerifyReport r = verify(model);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_FALSE(verdict(r, "w_f16").ok);
}

TEST(Verify, PyTorchViewsAndDeflatedEntriesVerify) {
  for (const char* name : {"dtypes.pt", "views.pt", "views_legacy.pt", "views_deflated.pt"}) {
    SCOPED_TRACE(name);
    std::string path = std::string(WM_SOURCE_DIR) + "/tests/data/torch/" + name;
    for (bool mmap : {true, false}) {
      LoadedModel model = load({path}, "", "", mmap);
      VerifyReport r = verify(model, 64);
      EXPECT_TRUE(r.ok());
      EXPECT_EQ(r.skipped, 0u);
      EXPECT_EQ(r.tensors.size(), model.tensors().size());
      for (const auto& v : r.tensors) {
        EXPECT_TRUE(v.ok) << v.name << ": " << v.detail;
      }
    }
  }
}

TEST(VerifyReference, RoundsLikeIeee) {
  using reference::round_to;
  EXPECT_EQ(round_to(1.0 + std::ldexp(1.0, -11), DType::F16), 1.0);  // tie: to even
  EXPECT_EQ(round_to(1.0 + 3 * std::ldexp(1.0, -11), DType::F16), 1.0 + std::ldexp(1.0, -9));
  EXPECT_EQ(round_to(65519.0, DType::F16), 65504.0);
  EXPECT_TRUE(std::isinf(round_to(65520.0, DType::F16)));
  EXPECT_EQ(round_to(std::ldexp(1.0, -25), DType::F16), 0.0);                 // half the smallest subnormal: even
  EXPECT_EQ(round_to(std::ldexp(1.5, -25), DType::F16), std::ldexp(1.0, -24)); // above half: smallest subnormal
  EXPECT_TRUE(std::signbit(round_to(-std::ldexp(1.0, -30), DType::F16)));
  EXPECT_EQ(round_to(1.0 / 3.0, DType::F32), static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(round_to(1.0 + std::ldexp(1.0, -8), DType::BF16), 1.0);
  EXPECT_EQ(round_to(-3.7, DType::I32), -3.0);
  EXPECT_TRUE(reference::same_value(std::nan(""), std::nan("")));
  EXPECT_FALSE(reference::same_value(0.0, -0.0));
}

}  // namespace
}  // namespace wm
