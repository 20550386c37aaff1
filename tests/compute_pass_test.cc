// The compute pass over real loaded models (GGUF + safetensors written here):
// its checksum equals one assembled independently from the files' bytes, and
// is the same whether the model was mapped, copied, put on the sim device,
// offloaded, or converted to F32 at load; thread count does not change it.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <numeric>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "compute/matvec.h"
#include "compute/pass.h"
#include "compute/reduce.h"
#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"

namespace wm {
namespace {

using test::random_weights;
using test::reference_decode;
using test::TempDir;

struct Spec {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
};

const std::vector<Spec> kGguf = {
    {"blk.0.w_f32", DType::F32, {5, 70}},     {"blk.0.w_f16", DType::F16, {3, 4, 33}},
    {"blk.0.w_bf16", DType::BF16, {16, 40}},  {"blk.0.w_q8", DType::Q8_0, {7, 96}},
    {"blk.0.w_q4", DType::Q4_0, {9, 64}},     {"blk.0.norm", DType::F32, {70}},
    {"blk.0.bias16", DType::F16, {33}},       {"tok.ids", DType::I32, {4, 6}},
    {"big.f16", DType::F16, {300, 1030}},  // over 256 KiB: rows split across threads
    {"blk.0.conv", DType::F16, {8, 4, 3, 3}},        // seen as 8 x 36
    {"blk.0.experts", DType::Q8_0, {2, 3, 256}},     // seen as 6 x 256
    {"blk.0.w_q4_1", DType::Q4_1, {3, 64}},   {"blk.0.w_q5_0", DType::Q5_0, {5, 32}},
    {"blk.0.w_q5_1", DType::Q5_1, {2, 96}},   {"blk.0.w_q4_k", DType::Q4_K, {4, 512}},
    {"blk.0.w_q5_k", DType::Q5_K, {3, 256}},  {"blk.0.w_q6_k", DType::Q6_K, {2, 2, 256}},
};
const std::vector<Spec> kSafetensors = {
    {"s.bf16_odd", DType::BF16, {3}},         // 6 bytes: what follows is unaligned
    {"s.f32_unaligned", DType::F32, {2, 5}},  // copied (not mapped) on the cpu
    {"s.f16", DType::F16, {4, 7}},
    {"s.i64", DType::I64, {4}},
    {"s.d64", DType::F64, {2, 3}},            // no kernel: summed in double
};
// Converting these to F32 at load must not change the checksum (exact
// conversions, and the kernels' determinism contract). Not the K-quants
// (blk.0.w_q*_k): their kernels take x quantised to Q8_K, the F32 kernel
// takes x as it is, so their y differ by design (compute_matvec_test bounds it).
const char* kToF32Rules =
    "blk.0.w_f32=F32,blk.0.w_f16=F32,blk.0.w_bf16=F32,blk.0.w_q8=F32,blk.0.w_q4=F32,blk.0.norm=F32,"
    "blk.0.bias16=F32,blk.0.conv=F32,blk.0.experts=F32,blk.0.w_q4_1=F32,blk.0.w_q5_0=F32,blk.0.w_q5_1=F32,"
    "big.*=F32,s.f16=F32,s.bf16_odd=F32";

uint64_t elems(const std::vector<uint64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), uint64_t{1}, std::multiplies<>());
}

std::vector<std::byte> tensor_bytes(const Spec& s, uint64_t seed) {
  if (s.dtype == DType::F64) {
    std::vector<std::byte> b(elems(s.shape) * 8);
    for (uint64_t k = 0; k < elems(s.shape); ++k) {
      double v = 0.1 * static_cast<double>(k) - 0.25;
      std::memcpy(b.data() + 8 * k, &v, 8);
    }
    return b;
  }
  if (s.dtype == DType::I32 || s.dtype == DType::I64) return test::pattern(elems(s.shape) * dtype_info(s.dtype).block_bytes, static_cast<uint32_t>(seed));
  uint64_t cols = s.shape.back();
  return random_weights(s.dtype, elems(s.shape) / cols, cols, seed);
}

std::vector<std::string> write_model(const TempDir& dir) {
  GgufWriter g(3, 32);
  uint64_t seed = 1;
  for (const auto& s : kGguf) g.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(tensor_bytes(s, seed++)));
  SafetensorsWriter st;
  for (const auto& s : kSafetensors) st.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(tensor_bytes(s, seed++)));
  std::vector<std::string> paths = {dir.file("m.gguf"), dir.file("m.safetensors")};
  EXPECT_TRUE(g.write(paths[0]).ok());
  EXPECT_TRUE(st.write(paths[1]).ok());
  return paths;
}

// The checksum assembled from the files' bytes: tensors in (file, offset)
// order; matrices through matvec_rows, others summed in double by the
// reference decoder or hashed.
uint64_t expected_checksum(const TensorTable& table, SimdLevel level, uint64_t seed) {
  std::map<uint32_t, std::vector<std::byte>> files;
  for (uint32_t f = 0; f < table.files().size(); ++f) files[f] = test::read_file(table.files()[f].path);
  std::vector<const TensorInfo*> order;
  for (const auto& t : table.tensors()) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return std::tie(a->file, a->offset) < std::tie(b->file, b->offset); });
  XXH3_state_t h;
  XXH3_64bits_reset(&h);
  for (const TensorInfo* t : order) {
    const std::byte* bytes = files[t->file].data() + t->offset;
    if (t->shape.size() >= 2 && matvec_supports(t->dtype)) {
      MatrixView w = MatrixView::from_shape(t->dtype, bytes, t->shape);
      std::vector<float> x = seeded_input(seed, w.cols), y(w.rows);
      matvec_rows(level, w, x.data(), y.data(), 0, w.rows);
      XXH3_64bits_update(&h, y.data(), y.size() * 4);
    } else if (dtype_info(t->dtype).is_float) {
      std::vector<double> v = reference_decode(t->dtype, bytes, t->nbytes);
      EXPECT_EQ(v.size(), elems(t->shape)) << t->name;
      double sum = 0;
      for (double d : v) sum += d;
      uint64_t bits = std::bit_cast<uint64_t>(sum);
      XXH3_64bits_update(&h, &bits, 8);
    } else {
      uint64_t hash = XXH3_64bits(bytes, t->nbytes);
      XXH3_64bits_update(&h, &hash, 8);
    }
  }
  return XXH3_64bits_digest(&h);
}

LoadedModel load(const std::vector<std::string>& paths, const std::string& devices, const std::string& types, bool mmap,
           bool offload = false) {
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

PassResult pass(const LoadedModel& model, SimdLevel level, unsigned threads = 2, uint64_t seed = 1,
                uint64_t device_chunk = 16ull << 20) {
  PassOptions o;
  o.simd = level;
  o.threads = threads;
  o.seed = seed;
  o.device_chunk_bytes = device_chunk;
  auto r = compute_pass(model, o);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? r.value() : PassResult{};
}

std::vector<SimdLevel> supported_levels() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : all_simd_levels())
    if (simd_level_supported(l)) out.push_back(l);
  return out;
}

TEST(ComputePass, ChecksumMatchesTheFilesWhateverTheLoadPath) {
  TempDir dir;
  auto paths = write_model(dir);
  auto table = open_model(paths);
  ASSERT_TRUE(table.ok());
  LoadedModel mapped = load(paths, "", "", true);
  LoadedModel copied = load(paths, "", "", false);
  LoadedModel sim = load(paths, "*=sim", "", true);
  LoadedModel offloaded = load(paths, "*=sim", "", true, true);
  LoadedModel to_f32 = load(paths, "", kToF32Rules, true);
  ASSERT_EQ(mapped.find("s.f32_unaligned")->placement, Placement::kCopy);
  ASSERT_EQ(copied.find("blk.0.w_q8")->placement, Placement::kCopy);
  ASSERT_TRUE(sim.find("big.f16")->on_device);
  ASSERT_FALSE(offloaded.find("big.f16")->on_device);
  ASSERT_EQ(to_f32.find("blk.0.w_q4")->dtype, DType::F32);
  ASSERT_EQ(to_f32.find("blk.0.w_q4_k")->dtype, DType::Q4_K);

  uint64_t total_bytes = 0;
  for (const auto& t : mapped.tensors()) total_bytes += t.nbytes;
  for (SimdLevel level : supported_levels()) {
    SCOPED_TRACE(simd_level_name(level));
    uint64_t want = expected_checksum(*table, level, 1);
    PassResult r = pass(mapped, level);
    EXPECT_EQ(r.checksum, want);
    EXPECT_EQ(r.tensors, kGguf.size() + kSafetensors.size());
    EXPECT_EQ(r.tensors_matvec, 16u);  // blk.0.w_*, blk.0.conv, blk.0.experts, big.f16, s.f32_unaligned, s.f16
    EXPECT_EQ(r.bytes, total_bytes);
    EXPECT_EQ(r.simd, level);
    EXPECT_EQ(r.threads, 2u);
    EXPECT_EQ(pass(copied, level).checksum, want) << "copied";
    EXPECT_EQ(pass(sim, level).checksum, want) << "sim device";
    EXPECT_EQ(pass(sim, level, 2, 1, 1000).checksum, want) << "sim device, downloads of a few rows";
    EXPECT_EQ(pass(offloaded, level).checksum, want) << "offloaded";
    EXPECT_EQ(pass(to_f32, level).checksum, want) << "converted to F32 at load";
    EXPECT_EQ(pass(mapped, level, 1).checksum, want) << "1 thread";
    EXPECT_EQ(pass(mapped, level, 3).checksum, want) << "3 threads";
    EXPECT_NE(pass(mapped, level, 2, 2).checksum, want) << "another seed must give another x";
  }
}

TEST(ComputePass, ChecksumIsTheSameAtEverySimdLevel) {
  // One arithmetic for every level (matvec_kernels.h; for the K-quants exact
  // integer sums and one float combination, kquant_kernels.h): the portable
  // kernel's checksum is every other level's, for every kernel dtype in the model.
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel mapped = load(paths, "", "", true);
  uint64_t portable = pass(mapped, SimdLevel::kPortable).checksum;
  for (SimdLevel level : supported_levels()) EXPECT_EQ(pass(mapped, level).checksum, portable) << simd_level_name(level);
}

TEST(ComputePass, ExtraTermSeesEachMatrixOnceWithItsInput) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", "", true);
  PassOptions o;
  o.seed = 5;
  std::vector<size_t> seen;
  o.extra_term = [&](size_t tensor, std::span<const float> x, std::span<float> y) {
    const Tensor& t = model.tensors()[tensor];
    MatrixView w = MatrixView::from_shape(t.dtype, nullptr, t.shape);
    ASSERT_EQ(x.size(), w.cols) << t.name;
    ASSERT_EQ(y.size(), w.rows) << t.name;
    std::vector<float> want = seeded_input(5, w.cols);
    // A LoRA term's cols (all dims but the first) is x's size for convs; not for experts.
    if (t.name == "blk.0.conv") {
      EXPECT_EQ(x.size(), 4u * 3 * 3);
    }
    if (t.name == "blk.0.experts") {
      EXPECT_EQ(x.size(), 256u);
    }
    EXPECT_EQ(std::memcmp(x.data(), want.data(), w.cols * 4), 0) << t.name;
    y[0] += 1.0f;  // the LoRA term will add scale * up(down x) here
    seen.push_back(tensor);
  };
  auto with = compute_pass(model, o);
  ASSERT_TRUE(with.ok()) << with.error().to_string();
  EXPECT_EQ(seen.size(), with->tensors_matvec);
  std::vector<size_t> order = file_order(model);
  std::vector<size_t> matrices;
  for (size_t i : order)
    if (model.tensors()[i].shape.size() >= 2 && matvec_supports(model.tensors()[i].dtype)) matrices.push_back(i);
  EXPECT_EQ(seen, matrices) << "called in file order";
  o.extra_term = nullptr;
  auto without = compute_pass(model, o);
  ASSERT_TRUE(without.ok());
  EXPECT_NE(with->checksum, without->checksum);
}

TEST(ComputePass, FileOrderIsByFileThenOffset) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", "", true);
  std::vector<size_t> order = file_order(model);
  ASSERT_EQ(order.size(), model.tensors().size());
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& a = model.tensors()[order[k - 1]];
    const auto& b = model.tensors()[order[k]];
    EXPECT_TRUE(a.file < b.file || (a.file == b.file && a.file_offset < b.file_offset)) << a.name << " " << b.name;
  }
}

TEST(ComputePass, BadOptionsAreErrors) {
  TempDir dir;
  auto paths = write_model(dir);
  LoadedModel model = load(paths, "", "", true);
  PassOptions o;
  o.threads = 0;
  auto r = compute_pass(model, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("threads"), std::string::npos);
  if (!simd_level_supported(SimdLevel::kAvx512)) {
    PassOptions a;
    a.simd = SimdLevel::kAvx512;
    auto ra = compute_pass(model, a);
    ASSERT_FALSE(ra.ok());
    EXPECT_NE(ra.error().message.find("avx512"), std::string::npos) << ra.error().message;
  }
}

TEST(Reduce, FloatTypesSumInDoubleInOrderWhateverTheChunks) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    SCOPED_TRACE(dtype_name(dtype));
    auto bytes = random_weights(dtype, 1, 32 * 100, 9);
    std::vector<double> ref = reference_decode(dtype, bytes.data(), bytes.size());
    double want = 0;
    for (double v : ref) want += v;
    EXPECT_TRUE(reduce_sums(dtype));
    EXPECT_EQ(reduce_tensor(dtype, bytes.data(), bytes.size()), std::bit_cast<uint64_t>(want));
    TensorReducer chunked(dtype);
    uint64_t block = dtype_info(dtype).block_bytes, at = 0;
    for (uint64_t n : {1u, 7u, 64u, 3u}) {  // chunk sizes in blocks
      chunked.add(bytes.data() + at, n * block);
      at += n * block;
    }
    chunked.add(bytes.data() + at, bytes.size() - at);
    EXPECT_EQ(chunked.sum(), want);
  }
}

TEST(Reduce, OtherTypesHashTheirBytes) {
  auto bytes = test::pattern(1000, 4);
  for (DType dtype : {DType::I32, DType::I64, DType::U8, DType::IQ2_XXS}) {
    EXPECT_FALSE(reduce_sums(dtype)) << dtype_name(dtype);
  }
  EXPECT_EQ(reduce_tensor(DType::I32, bytes.data(), bytes.size()), XXH3_64bits(bytes.data(), bytes.size()));
  TensorReducer chunked(DType::U8);
  chunked.add(bytes.data(), 333);
  chunked.add(bytes.data() + 333, 667);
  EXPECT_EQ(chunked.value(), XXH3_64bits(bytes.data(), bytes.size()));
}

}  // namespace
}  // namespace wm
