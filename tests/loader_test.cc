// load_model end to end on generated GGUF + safetensors files: every tensor's
// bytes (host pointer or sim download) equal the file's bytes, or a reference
// conversion of them computed here in double; the report adds up; mapping
// failures fall back with a logged reason; staging stays within its budget.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <unistd.h>

#include "dtype/dtype.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"
#include "platform_support.h"
#include "test_support.h"
#include "sim_of.h"
#include "io/process_memory.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;

// --- reference decoding (from the format definitions) ----------------------

using test::half_value;
double bf16_value(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

struct FloatFormat {
  int mant_bits, emin, emax;
};
constexpr FloatFormat kHalf{10, -14, 15}, kBf16{7, -126, 127}, kSingle{23, -126, 127};

double round_to(double x, FloatFormat f) {  // round to nearest even, IEEE overflow
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  double a = std::fabs(x);
  int e;
  std::frexp(a, &e);
  double q = std::ldexp(1.0, std::max(e - 1, f.emin) - f.mant_bits);
  double r = std::nearbyint(a / q) * q;
  if (r > std::ldexp(2.0 - std::ldexp(1.0, -f.mant_bits), f.emax)) r = std::numeric_limits<double>::infinity();
  return std::copysign(r, x);
}

template <class T>
T load_at(const std::byte* p, size_t k) {
  T v;
  std::memcpy(&v, p + k * sizeof(T), sizeof(T));
  return v;
}

// Every element of a tensor's source bytes as a double.
std::vector<double> decode(DType t, const std::byte* p, uint64_t nbytes) {
  std::vector<double> out;
  switch (t) {
    case DType::F32:
      for (size_t k = 0; k < nbytes / 4; ++k) out.push_back(load_at<float>(p, k));
      break;
    case DType::F16:
      for (size_t k = 0; k < nbytes / 2; ++k) out.push_back(half_value(load_at<uint16_t>(p, k)));
      break;
    case DType::BF16:
      for (size_t k = 0; k < nbytes / 2; ++k) out.push_back(bf16_value(load_at<uint16_t>(p, k)));
      break;
    case DType::I64:
      for (size_t k = 0; k < nbytes / 8; ++k) out.push_back(static_cast<double>(load_at<int64_t>(p, k)));
      break;
    case DType::Q8_0:  // blocks: F16 d, 32 x int8 q; x = d * q
      for (size_t b = 0; b < nbytes / 34; ++b) {
        double d = half_value(load_at<uint16_t>(p + 34 * b, 0));
        for (int j = 0; j < 32; ++j) out.push_back(d * static_cast<int8_t>(p[34 * b + 2 + j]));
      }
      break;
    case DType::Q4_0:  // blocks: F16 d, 16 bytes; x[j] = d*(lo-8), x[j+16] = d*(hi-8)
      for (size_t b = 0; b < nbytes / 18; ++b) {
        double d = half_value(load_at<uint16_t>(p + 18 * b, 0));
        double x[32];
        for (int j = 0; j < 16; ++j) {
          auto q = static_cast<uint8_t>(p[18 * b + 2 + j]);
          x[j] = d * ((q & 15) - 8);
          x[j + 16] = d * ((q >> 4) - 8);
        }
        out.insert(out.end(), x, x + 32);
      }
      break;
    default:
      ADD_FAILURE() << "no reference decoder for " << dtype_name(t);
  }
  return out;
}

bool same_value(double got, double want) {
  if (std::isnan(want)) return std::isnan(got);
  return got == want && std::signbit(got) == std::signbit(want);
}

// --- a generated model -----------------------------------------------------

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t x = (s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
};

// Random bytes for `dtype`, well-formed where the type has structure: block
// scales are finite F16, I64 values fit I32 unless `wide_ints`.
std::vector<std::byte> random_tensor(DType dtype, const std::vector<uint64_t>& shape, uint64_t seed,
                                     bool wide_ints = false) {
  auto n = tensor_nbytes(dtype, shape);
  EXPECT_TRUE(n.nbytes) << n.reason;
  std::vector<std::byte> b(n.nbytes.value_or(0));
  Rng rng{seed};
  for (auto& x : b) x = static_cast<std::byte>(rng.next());
  auto finite_scale = [&](size_t at) {
    uint16_t d = static_cast<uint16_t>(rng.next() & 0xbfff);  // exponent below 0x10: |d| < 2
    std::memcpy(b.data() + at, &d, 2);
  };
  if (dtype == DType::Q8_0)
    for (size_t at = 0; at < b.size(); at += 34) finite_scale(at);
  if (dtype == DType::Q4_0)
    for (size_t at = 0; at < b.size(); at += 18) finite_scale(at);
  if (dtype == DType::I64 && !wide_ints)
    for (size_t at = 0; at < b.size(); at += 8) {
      int64_t v = static_cast<int32_t>(rng.next());
      std::memcpy(b.data() + at, &v, 8);
    }
  return b;
}

struct Spec {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
};

// GGUF (32-byte aligned): F32, F16, BF16, Q8_0, Q4_0, I32.
const std::vector<Spec> kGgufTensors = {
    {"g.f32", DType::F32, {3, 40}},     {"g.f16", DType::F16, {100}},   {"g.bf16", DType::BF16, {50}},
    {"g.q8", DType::Q8_0, {64, 256}},   {"g.q4", DType::Q4_0, {2, 64}}, {"g.i32", DType::I32, {10}},
    {"g.f32b", DType::F32, {1000}},
};
// safetensors (contiguous: offsets after an odd-sized tensor are unaligned).
const std::vector<Spec> kSafetensorsTensors = {
    {"s.bf16_odd", DType::BF16, {3}},      // 6 bytes at +0
    {"s.f32_unaligned", DType::F32, {2, 5}},  // at +6: not 4-aligned
    {"s.f16", DType::F16, {7}},            // at +46
    {"s.f32_aligned", DType::F32, {6}},    // at +60
    {"s.i64", DType::I64, {4}},            // at +84: not 8-aligned
    {"s.bf16", DType::BF16, {1000}},       // at +116
};

struct Files {
  std::string gguf, safetensors;
  std::vector<std::string> all() const { return {gguf, safetensors}; }
};

void write_gguf(const std::string& path, const std::vector<Spec>& specs, uint64_t seed) {
  GgufWriter w(3, 32);
  for (const auto& s : specs) w.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(random_tensor(s.dtype, s.shape, seed++)));
  Status st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
}

void write_safetensors(const std::string& path, const std::vector<Spec>& specs, uint64_t seed, bool wide_ints = false) {
  SafetensorsWriter w;
  for (const auto& s : specs)
    w.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(random_tensor(s.dtype, s.shape, seed++, wide_ints)));
  Status st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
}

Files write_model(const TempDir& dir) {
  Files f{dir.file("enc.gguf"), dir.file("tr.safetensors")};
  write_gguf(f.gguf, kGgufTensors, 100);
  write_safetensors(f.safetensors, kSafetensorsTensors, 200);
  return f;
}

TensorTable open_table(const std::vector<std::string>& paths) {
  auto t = open_model(paths);
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return t.ok() ? std::move(t.value()) : TensorTable{};
}

struct Logs {
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
  Logger logger() {
    return Logger([this](LogLevel l, std::string_view m) {
      std::lock_guard lock(mu);
      lines.emplace_back(l, std::string(m));
    });
  }
  bool has(LogLevel level, const std::string& text) {
    std::lock_guard lock(mu);
    for (const auto& [l, m] : lines)
      if (l == level && m.find(text) != std::string::npos) return true;
    return false;
  }
  int count(const std::string& text) {
    std::lock_guard lock(mu);
    int n = 0;
    for (const auto& [l, m] : lines) n += m.find(text) != std::string::npos;
    return n;
  }
  std::string all() {
    std::lock_guard lock(mu);
    std::string s;
    for (const auto& [l, m] : lines) s += std::string(to_string(l)) + ": " + m + "\n";
    return s;
  }
};

PlanOptions plan_options(const std::string& devices = {}, const std::string& types = {}) {
  PlanOptions o;
  auto d = NameRules::parse(devices);
  auto t = NameRules::parse(types);
  EXPECT_TRUE(d.ok() && t.ok());
  if (d.ok()) o.device_rules = d.value();
  if (t.ok()) o.type_rules = t.value();
  return o;
}

// The bytes a tensor holds now, wherever they are.
std::vector<std::byte> tensor_bytes(const LoadedModel& model, const Tensor& t) {
  std::vector<std::byte> out(t.nbytes);
  if (t.on_device) {
    EXPECT_TRUE(model.read_bytes(static_cast<size_t>(&t - model.tensors().data()), 0, out.data(), out.size()).ok());
  } else {
    EXPECT_NE(t.host_data, nullptr) << t.name;
    if (t.host_data && t.nbytes) std::memcpy(out.data(), t.host_data, t.nbytes);
  }
  return out;
}

// Checks every tensor of `model` against the files' bytes (`table` is the
// parse result, kept by the test), converted by the reference when the dtype
// changed. Returns the number of tensors checked.
size_t expect_contents_match(const LoadedModel& model, const TensorTable& table) {
  std::map<uint32_t, std::vector<std::byte>> file_bytes;
  for (uint32_t f = 0; f < table.files().size(); ++f) file_bytes[f] = read_file(table.files()[f].path);
  EXPECT_EQ(model.tensors().size(), table.tensors().size());
  size_t checked = 0;
  for (size_t i = 0; i < table.tensors().size() && i < model.tensors().size(); ++i) {
    const TensorInfo& src = table.tensors()[i];
    const Tensor& t = model.tensors()[i];
    SCOPED_TRACE(src.qualified_name());
    EXPECT_EQ(t.name, src.qualified_name());
    EXPECT_EQ(model.find(src.qualified_name()), &t);
    EXPECT_EQ(t.shape, src.shape);
    EXPECT_EQ(t.file, src.file);
    EXPECT_EQ(t.file_offset, src.offset);
    const std::byte* file_src = file_bytes[src.file].data() + src.offset;
    std::vector<std::byte> got = tensor_bytes(model, t);
    if (t.dtype == src.dtype) {
      EXPECT_EQ(t.nbytes, src.nbytes);
      EXPECT_TRUE(got.size() == src.nbytes && (src.nbytes == 0 || std::memcmp(got.data(), file_src, src.nbytes) == 0))
          << "bytes differ from the file";
    } else {
      EXPECT_EQ(t.placement, Placement::kConvert);
      std::vector<double> want = decode(src.dtype, file_src, src.nbytes);
      size_t bad = 0;
      for (size_t k = 0; k < want.size(); ++k) {
        bool ok = false;
        switch (t.dtype) {
          case DType::F32: ok = same_value(load_at<float>(got.data(), k), round_to(want[k], kSingle)); break;
          case DType::F16: ok = same_value(half_value(load_at<uint16_t>(got.data(), k)), round_to(want[k], kHalf)); break;
          case DType::BF16: ok = same_value(bf16_value(load_at<uint16_t>(got.data(), k)), round_to(want[k], kBf16)); break;
          case DType::I32: ok = load_at<int32_t>(got.data(), k) == static_cast<int32_t>(want[k]); break;
          default: ADD_FAILURE() << "unexpected target " << dtype_name(t.dtype);
        }
        if (!ok && bad++ < 3) ADD_FAILURE() << "element " << k << " of " << want.size() << " wrong";
      }
      EXPECT_EQ(bad, 0u);
      auto target_bytes = tensor_nbytes(t.dtype, src.shape);
      EXPECT_EQ(t.nbytes, target_bytes.nbytes.value_or(~0ull));
    }
    if (!t.on_device && t.host_data) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.host_data) % cpu_device_caps().required_alignment(t.dtype), 0u)
          << "host data not aligned for its dtype";
    }
    ++checked;
  }
  return checked;
}

void expect_report_adds_up(const LoadedModel& model, const TensorTable& table) {
  const LoadReport& r = model.report();
  EXPECT_EQ(r.tensors, table.tensors().size());
  EXPECT_EQ(r.tensors_mapped + r.tensors_copied + r.tensors_converted, r.tensors);
  EXPECT_EQ(r.bytes_total, table.total_tensor_bytes());
  uint64_t mapped = 0, copied = 0, converted = 0, host_copy = 0, device = 0, n_mapped = 0, n_resident = 0;
  for (size_t i = 0; i < model.tensors().size(); ++i) {
    const Tensor& t = model.tensors()[i];
    uint64_t src = table.tensors()[i].nbytes;
    if (t.placement == Placement::kMap) mapped += src, ++n_mapped;
    if (t.placement == Placement::kCopy) copied += src;
    if (t.placement == Placement::kConvert) converted += src;
    if (t.placement != Placement::kMap && !t.on_device) host_copy += t.nbytes;
    if (t.on_device) device += t.nbytes;
    n_resident += t.host_resident;
    EXPECT_EQ(t.reason.empty(), t.placement == Placement::kMap && !t.host_resident) << t.name << ": " << t.reason;
  }
  EXPECT_EQ(r.bytes_mapped, mapped);
  EXPECT_EQ(r.bytes_copied, copied);
  EXPECT_EQ(r.bytes_converted, converted);
  EXPECT_EQ(r.bytes_mapped + r.bytes_copied + r.bytes_converted, r.bytes_total);
  EXPECT_EQ(r.tensors_mapped, n_mapped);
  EXPECT_EQ(r.tensors_host_resident, n_resident);
  EXPECT_EQ(r.host_copy_bytes, host_copy);
  EXPECT_EQ(r.device_bytes, device);
  {
    EXPECT_EQ(test::sim_of(model).bytes_allocated(), device);
  }
  uint64_t file_bytes = 0;
  for (const auto& f : table.files()) file_bytes += f.size;
  EXPECT_EQ(r.file_bytes, file_bytes);
  EXPECT_LE(r.page_cache_bytes, r.file_bytes);
  EXPECT_LE(r.staging_peak_bytes, r.staging_budget_bytes);
  EXPECT_GT(r.memory.peak_rss_kib, 0u);
  EXPECT_GE(r.memory.peak_rss_kib, r.memory.rss_kib);
  if (supports(Capability::kProcessMemory)) {
    EXPECT_GT(r.memory.anon_kib, 0u);
  }
  EXPECT_GE(r.time.total_ms, 0.0);
  EXPECT_GE(r.threads, 1u);
}

// --- the tests -------------------------------------------------------------

TEST(Loader, GeneratedModelHasWhatTheTestsNeed) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  ASSERT_EQ(table.tensors().size(), kGgufTensors.size() + kSafetensorsTensors.size());
  const TensorInfo* unaligned = table.find("s.f32_unaligned");
  ASSERT_NE(unaligned, nullptr);
  EXPECT_NE(unaligned->offset % 4, 0u);
  const TensorInfo* i64 = table.find("s.i64");
  ASSERT_NE(i64, nullptr);
  EXPECT_NE(i64->offset % 8, 0u);
  for (const auto& t : table.tensors())
    if (t.file == 0) {
      EXPECT_EQ(t.offset % 32, 0u) << t.name;
    }
}

TEST(Loader, MmapOnCpuMapsAlignedTensorsAndCopiesTheRest) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  Logs logs;
  LoadOptions o;
  o.log = logs.logger();
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(expect_contents_match(*model, table), table.tensors().size());
  expect_report_adds_up(*model, table);
  for (const auto& t : model->tensors()) {
    bool aligned = t.file_offset % cpu_device_caps().required_alignment(t.dtype) == 0;
    EXPECT_EQ(t.placement, aligned ? Placement::kMap : Placement::kCopy) << t.name;
    EXPECT_FALSE(t.on_device);
  }
  EXPECT_EQ(model->find("s.f32_unaligned")->placement, Placement::kCopy);
  EXPECT_NE(model->find("s.f32_unaligned")->reason.find("aligned"), std::string::npos);
  EXPECT_EQ(model->find("s.i64")->placement, Placement::kCopy);
  EXPECT_EQ(model->find("g.q8")->placement, Placement::kMap);
  EXPECT_EQ(model->find("s.bf16")->placement, Placement::kMap);
  EXPECT_EQ(test::sim_of(*model).bytes_allocated(), 0u);
  EXPECT_EQ(model->report().device_bytes, 0u);
  EXPECT_GT(model->report().host_copy_bytes, 0u);

  // Mapped tensors of one file point into one mapping of the whole file.
  for (uint32_t file = 0; file < 2; ++file) {
    const std::byte* base = nullptr;
    for (const auto& t : model->tensors()) {
      if (t.file != file || t.placement != Placement::kMap) continue;
      const std::byte* b = t.host_data - t.file_offset;
      if (!base) base = b;
      EXPECT_EQ(b, base) << t.name;
    }
    ASSERT_NE(base, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(base) % 4096, 0u);
  }
  // Each mapped file is announced at INFO, with its path.
  EXPECT_TRUE(logs.has(LogLevel::kInfo, "using mmap for '" + f.gguf + "'")) << logs.all();
  EXPECT_TRUE(logs.has(LogLevel::kInfo, "using mmap for '" + f.safetensors + "'")) << logs.all();
  EXPECT_EQ(logs.count("using mmap for"), 2);
}

TEST(Loader, AllMappedModelNeedsNoBufferAtAll) {
  TempDir dir;
  std::string path = dir.file("only.gguf");
  write_gguf(path, kGgufTensors, 1);
  TensorTable table = open_table({path});
  auto model = load_model(table, {});
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(expect_contents_match(*model, table), table.tensors().size());
  expect_report_adds_up(*model, table);
  const LoadReport& r = model->report();
  EXPECT_EQ(r.tensors_mapped, r.tensors);
  EXPECT_EQ(r.bytes_mapped, r.bytes_total);
  EXPECT_EQ(r.host_copy_bytes, 0u);
  EXPECT_EQ(r.device_bytes, 0u);
  EXPECT_EQ(r.staging_peak_bytes, 0u);
  EXPECT_EQ(test::sim_of(*model).bytes_allocated(), 0u);
  for (const auto& t : model->tensors()) {
    EXPECT_EQ(t.placement, Placement::kMap);
    EXPECT_TRUE(t.reason.empty());
  }
  EXPECT_TRUE(test::process_maps_file(path));
}

TEST(Loader, NoMmapCopiesEveryTensorExactly) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  for (unsigned threads : {1u, 3u, 8u}) {
    SCOPED_TRACE(threads);
    Logs logs;
    LoadOptions o;
    o.log = logs.logger();
    o.threads = threads;
    o.plan.use_mmap = false;
    auto model = load_model(table, o);
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    expect_contents_match(*model, table);
    expect_report_adds_up(*model, table);
    const LoadReport& r = model->report();
    EXPECT_EQ(r.tensors_copied, r.tensors);
    EXPECT_EQ(r.bytes_copied, r.bytes_total);
    EXPECT_EQ(r.host_copy_bytes, r.bytes_total);
    EXPECT_EQ(r.device_bytes, 0u);
    EXPECT_EQ(r.threads, threads);
    for (const auto& t : model->tensors()) EXPECT_EQ(t.reason, "mmap disabled");
    EXPECT_EQ(logs.count("using mmap"), 0) << logs.all();
    EXPECT_FALSE(test::process_maps_file(f.gguf));
  }
}

TEST(Loader, SimDeviceGetsEveryTensorThroughItsQueue) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  Logs logs;
  LoadOptions o;
  o.log = logs.logger();
  o.plan = plan_options("sim");
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  for (const auto& t : model->tensors()) {
    EXPECT_TRUE(t.on_device) << t.name;
    EXPECT_EQ(t.host_data, nullptr) << t.name;
    EXPECT_EQ(t.placement, Placement::kCopy);
    EXPECT_EQ(model->devices()[t.device].name, "sim");
    EXPECT_NE(t.reason.find("cannot read host memory"), std::string::npos) << t.reason;
  }
  EXPECT_EQ(expect_contents_match(*model, table), table.tensors().size());
  expect_report_adds_up(*model, table);
  const LoadReport& r = model->report();
  EXPECT_EQ(r.device_bytes, r.bytes_total);
  EXPECT_EQ(r.host_copy_bytes, 0u);
  EXPECT_EQ(test::sim_of(*model).bytes_uploaded(), r.bytes_total);
  EXPECT_GT(r.staging_peak_bytes, 0u);
  EXPECT_EQ(logs.count("using mmap"), 0) << logs.all();  // nothing used in place: nothing mapped
}

TEST(Loader, DeviceRulesSplitTheModel) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("g.*=cpu,*=sim");
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  for (const auto& t : model->tensors()) EXPECT_EQ(t.on_device, t.name[0] == 's') << t.name;
  EXPECT_EQ(model->find("g.f32")->placement, Placement::kMap);
  expect_contents_match(*model, table);
  expect_report_adds_up(*model, table);
}

TEST(Loader, OffloadKeepsSimTensorsHostResident) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("sim");
  o.plan.offload_to_cpu = true;
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(test::sim_of(*model).bytes_allocated(), 0u);  // nothing went to the device
  for (const auto& t : model->tensors()) {
    EXPECT_TRUE(t.host_resident) << t.name;
    EXPECT_FALSE(t.on_device) << t.name;
    EXPECT_NE(t.host_data, nullptr);
    bool aligned = t.file_offset % cpu_device_caps().required_alignment(t.dtype) == 0;
    EXPECT_EQ(t.placement, aligned ? Placement::kMap : Placement::kCopy) << t.name;
    EXPECT_NE(t.reason.find("host-resident"), std::string::npos) << t.reason;
  }
  EXPECT_EQ(model->report().tensors_host_resident, table.tensors().size());
  EXPECT_EQ(model->report().device_bytes, 0u);
  expect_contents_match(*model, table);
  expect_report_adds_up(*model, table);
}

TEST(Loader, TypeConversionOnCpuMatchesTheReference) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("", "F16");
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(model->find("g.f32")->dtype, DType::F16);
  EXPECT_EQ(model->find("g.q8")->dtype, DType::F16);
  EXPECT_EQ(model->find("g.q4")->dtype, DType::F16);
  EXPECT_EQ(model->find("s.bf16")->dtype, DType::F16);
  EXPECT_EQ(model->find("g.f16")->placement, Placement::kMap);  // already F16
  EXPECT_EQ(model->find("g.i32")->dtype, DType::I32);           // no conversion for it
  EXPECT_EQ(model->find("g.i32")->placement, Placement::kMap);
  EXPECT_EQ(expect_contents_match(*model, table), table.tensors().size());
  expect_report_adds_up(*model, table);
  EXPECT_GT(model->report().bytes_converted, 0u);
}

TEST(Loader, TypeConversionOnSimMatchesTheReference) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("sim", "s.i64=I32,g.f32b=BF16,*=F32");
  o.staging_bytes = 64 << 10;  // small: several chunks per big tensor
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(model->find("g.q8")->dtype, DType::F32);
  EXPECT_EQ(model->find("s.i64")->dtype, DType::I32);
  EXPECT_EQ(model->find("g.f32b")->dtype, DType::BF16);
  EXPECT_EQ(model->find("g.f32")->placement, Placement::kCopy);
  EXPECT_EQ(expect_contents_match(*model, table), table.tensors().size());
  expect_report_adds_up(*model, table);
  EXPECT_LE(model->report().staging_budget_bytes, 64u << 10);
}

TEST(Loader, OffloadWithConversionUsesHostBuffers) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("sim", "F32");
  o.plan.offload_to_cpu = true;
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(test::sim_of(*model).bytes_allocated(), 0u);
  EXPECT_EQ(model->find("g.q8")->placement, Placement::kConvert);
  EXPECT_TRUE(model->find("g.q8")->host_resident);
  expect_contents_match(*model, table);
  expect_report_adds_up(*model, table);
}

TEST(Loader, TensorFourTimesTheStagingBudgetStreamsThrough) {
  TempDir dir;
  const uint64_t budget = 64 << 10;
  std::string gguf = dir.file("big.gguf"), st = dir.file("big.safetensors");
  write_gguf(gguf, {{"big.q8", DType::Q8_0, {256, 256}}, {"big.f32", DType::F32, {80000}}}, 9);  // 69632 + 320000 B
  write_safetensors(st, {{"odd", DType::BF16, {1}}, {"big.bf16", DType::BF16, {140001}}}, 10);  // 280002 B, unaligned? no: 2-aligned
  TensorTable table = open_table({gguf, st});
  ASSERT_GE(table.find("big.f32")->nbytes, 4 * budget);
  ASSERT_GE(table.find("big.bf16")->nbytes, 4 * budget);

  struct Mode {
    const char* devices;
    const char* types;
    bool mmap;
  };
  for (Mode m : {Mode{"sim", "", true}, Mode{"cpu", "F16", true}, Mode{"sim", "F32", true}, Mode{"cpu", "", false},
                 Mode{"sim", "F16", false}}) {
    for (unsigned threads : {1u, 2u, 5u}) {
      SCOPED_TRACE(std::string(m.devices) + " " + m.types + (m.mmap ? " mmap" : " no-mmap") + " threads " +
                   std::to_string(threads));
      LoadOptions o;
      o.plan = plan_options(m.devices, m.types);
      o.plan.use_mmap = m.mmap;
      o.threads = threads;
      o.staging_bytes = budget;
      auto model = load_model(table, o);
      ASSERT_TRUE(model.ok()) << model.error().to_string();
      expect_contents_match(*model, table);
      expect_report_adds_up(*model, table);
      const LoadReport& r = model->report();
      EXPECT_LE(r.staging_peak_bytes, r.staging_budget_bytes);
      EXPECT_LE(r.staging_budget_bytes, budget);
      if (std::string(m.devices) == "sim" || std::string(m.types) != "") {
        EXPECT_GT(r.staging_peak_bytes, 0u);
      }
    }
  }
}

TEST(Loader, StagingBudgetHoldsWhateverTheWorkerCount) {
  TempDir dir;
  std::string gguf = dir.file("m.gguf");
  write_gguf(gguf, {{"a", DType::F32, {50000}}, {"b", DType::Q8_0, {64, 512}}}, 11);
  TensorTable table = open_table({gguf});
  for (uint64_t budget : {uint64_t{16} << 10, uint64_t{64} << 10}) {
    for (unsigned threads : {2u, 16u, 64u}) {
      SCOPED_TRACE(std::to_string(budget) + " bytes, " + std::to_string(threads) + " threads");
      LoadOptions o;
      o.plan = plan_options("sim", "F16");
      o.threads = threads;
      o.staging_bytes = budget;
      auto model = load_model(table, o);
      ASSERT_TRUE(model.ok()) << model.error().to_string();
      const LoadReport& r = model->report();
      EXPECT_LE(r.staging_budget_bytes, budget);
      EXPECT_LE(r.staging_peak_bytes, r.staging_budget_bytes);
      EXPECT_LE(r.threads, threads);
      EXPECT_GE(r.threads, 1u);
      expect_contents_match(*model, table);
    }
  }
}

TEST(Loader, ZeroSizedFileFallsBackToReadingWithALoggedReason) {
  TempDir dir;
  std::string gguf = dir.file("m.gguf"), empty = dir.file("empty.bin");
  write_gguf(gguf, {{"a", DType::F32, {16}}}, 12);
  test::write_file(empty, {});
  TensorTable table = open_table({gguf});
  // No parser takes a zero-sized file, so the table entry is made by hand:
  // a file of 0 bytes holding one tensor of 0 elements.
  TensorTable extra;
  FileInfo fi;
  fi.path = empty;
  fi.format = FileFormat::kSafetensors;
  extra.add_file(fi);
  TensorInfo ti;
  ti.name = "z.empty";
  ti.dtype = DType::F32;
  ti.shape = {0};
  extra.add_tensor(ti);
  table.append(std::move(extra));
  ASSERT_TRUE(table.check_unique_names().ok());

  Logs logs;
  LoadOptions o;
  o.log = logs.logger();
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  const Tensor* z = model->find("z.empty");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->placement, Placement::kCopy);
  EXPECT_EQ(z->nbytes, 0u);
  EXPECT_NE(z->reason.find("file not mapped"), std::string::npos) << z->reason;
  EXPECT_NE(z->reason.find("zero-sized"), std::string::npos) << z->reason;
  EXPECT_TRUE(logs.has(LogLevel::kWarn, "cannot map '" + empty + "'")) << logs.all();
  EXPECT_TRUE(logs.has(LogLevel::kWarn, "zero-sized")) << logs.all();
  EXPECT_FALSE(logs.has(LogLevel::kInfo, "using mmap for '" + empty + "'")) << logs.all();
  // The other file is still mapped.
  EXPECT_TRUE(logs.has(LogLevel::kInfo, "using mmap for '" + gguf + "'")) << logs.all();
  EXPECT_EQ(model->find("a")->placement, Placement::kMap);
  expect_contents_match(*model, table);
  expect_report_adds_up(*model, table);
}

TEST(Loader, UnmappableOptionIsHonoured) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  Logs logs;
  LoadOptions o;
  o.log = logs.logger();
  o.plan.unmappable = {"", "on a filesystem without mmap"};
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  for (const auto& t : model->tensors()) {
    if (t.file == 1) {
      EXPECT_EQ(t.placement, Placement::kCopy);
      EXPECT_NE(t.reason.find("on a filesystem without mmap"), std::string::npos) << t.reason;
    }
  }
  EXPECT_FALSE(logs.has(LogLevel::kInfo, "using mmap for '" + f.safetensors + "'")) << logs.all();
  EXPECT_TRUE(logs.has(LogLevel::kInfo, "using mmap for '" + f.gguf + "'")) << logs.all();
  expect_contents_match(*model, table);
}

TEST(Loader, ReleaseLeavesTheModelEmpty) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  LoadOptions o;
  o.plan = plan_options("s.*=sim");
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  SimDevice& sim = test::sim_of(*model);
  EXPECT_GT(sim.bytes_allocated(), 0u);
  EXPECT_TRUE(test::process_maps_file(f.gguf));
  ASSERT_TRUE(model->release().ok());
  EXPECT_TRUE(model->tensors().empty());
  EXPECT_EQ(model->find("g.f32"), nullptr);
  EXPECT_EQ(model->find("s.f16"), nullptr);
  EXPECT_EQ(sim.bytes_allocated(), 0u);  // release() freed every buffer
  EXPECT_FALSE(test::process_maps_file(f.gguf)) << "mapping still present after release()";
  EXPECT_TRUE(model->release().ok());  // twice is harmless
  EXPECT_TRUE(model->tensors().empty());
}

TEST(Loader, MovedModelKeepsItsTensors) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  auto model = load_model(table, {});
  ASSERT_TRUE(model.ok());
  LoadedModel moved = std::move(model.value());
  EXPECT_EQ(expect_contents_match(moved, table), table.tensors().size());
  EXPECT_EQ(moved.report().tensors, table.tensors().size());
}

TEST(Loader, FileTruncatedAfterParsingIsAnErrorNamingIt) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  std::filesystem::resize_file(f.safetensors, std::filesystem::file_size(f.safetensors) - 10);
  for (bool mmap : {true, false}) {
    LoadOptions o;
    o.plan.use_mmap = mmap;
    auto model = load_model(table, o);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.error().file, f.safetensors);
    EXPECT_NE(model.error().to_string().find(f.safetensors), std::string::npos);
    EXPECT_NE(model.error().message.find("changed"), std::string::npos) << model.error().message;
  }
}

// Saving over a loaded model keeps the size but not the bytes: a file
// replaced (new inode) after parsing must be refused, not read at stale offsets.
TEST(Loader, FileReplacedWithTheSameSizeAfterParsingIsAnError) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  ASSERT_NE(table.files()[0].identity.inode, 0u);
  auto bytes = read_file(f.gguf);
  std::string tmp = f.gguf + ".new";
  test::write_file(tmp, bytes);
  std::string why;
  if (!test::replace_open_file(tmp, f.gguf, &why)) GTEST_SKIP() << why;
  auto model = load_model(table, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().file, f.gguf);
  EXPECT_NE(model.error().message.find("replaced"), std::string::npos) << model.error().message;
  EXPECT_EQ(model.error().code, ErrorCode::kChangedOnDisk);
  // Opened again, the same bytes load.
  EXPECT_TRUE(load_model(open_table(f.all()), {}).ok());
}

TEST(Loader, FileRemovedAfterParsingIsAnErrorNamingIt) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  std::string why;
  if (!test::remove_open_file(f.gguf, &why)) GTEST_SKIP() << why;
  auto model = load_model(table, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().file, f.gguf);
}

TEST(Loader, OutOfRangeIntegerConversionIsAnErrorNamingTheTensor) {
  TempDir dir;
  std::string st = dir.file("ints.safetensors");
  SafetensorsWriter w;
  std::vector<int64_t> vals = {1, -2, int64_t{1} << 40, 7};
  std::vector<std::byte> bytes(vals.size() * 8);
  std::memcpy(bytes.data(), vals.data(), bytes.size());
  w.add_tensor("ids", DType::I64, {4}, TensorData::bytes(bytes));
  ASSERT_TRUE(w.write(st).ok());
  TensorTable table = open_table({st});
  for (const char* device : {"cpu", "sim"}) {
    SCOPED_TRACE(device);
    LoadOptions o;
    o.plan = plan_options(device, "I32");
    auto model = load_model(table, o);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.error().tensor, "ids");
    EXPECT_EQ(model.error().file, st);
    EXPECT_NE(model.error().message.find("1 values do not fit I32"), std::string::npos) << model.error().message;
  }
}

TEST(Loader, ProgressReportsEveryCopiedByte) {
  TempDir dir;
  Files f = write_model(dir);
  TensorTable table = open_table(f.all());
  std::mutex mu;
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  LoadOptions o;
  o.plan.use_mmap = false;
  o.progress = [&](uint64_t done, uint64_t total) {
    std::lock_guard lock(mu);
    EXPECT_LE(done, total);
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
    ++calls;
  };
  auto model = load_model(table, o);
  ASSERT_TRUE(model.ok());
  std::lock_guard lock(mu);
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_total, table.total_tensor_bytes());
  EXPECT_EQ(last_done, last_total);
}

TEST(Loader, ProcessMemoryIsReadFromTheKernel) {
  WM_SKIP_WITHOUT(Capability::kProcessMemory);
  ProcessMemory m = read_process_memory();
  EXPECT_GT(m.rss_kib, 0u);
  EXPECT_GE(m.peak_rss_kib, m.rss_kib);
  EXPECT_GT(m.anon_kib, 0u);
  EXPECT_LE(m.anon_kib + m.file_kib, m.rss_kib + 4);  // RssShmem is the rest
  // Touching 64 MiB of anonymous memory shows up in RssAnon.
  std::vector<char> block(64 << 20);
  for (size_t k = 0; k < block.size(); k += 4096) block[k] = static_cast<char>(k);
  ProcessMemory after = read_process_memory();
  EXPECT_GE(after.anon_kib + 4096, m.anon_kib + (64u << 10) - 4096) << "RssAnon did not grow";
  EXPECT_GE(after.peak_rss_kib, after.rss_kib);
  EXPECT_NE(block[4096], 1);
}

}  // namespace
}  // namespace wm
