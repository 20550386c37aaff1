// TensorSource (load/tensor_source.h), the one way to a tensor's bytes:
// each kind of source (a plain range read with pread, O_DIRECT or io_uring;
// PyTorch strided views; deflated zip entries) with and without conversion.
// Expected bytes come from the test itself (values it wrote, converted here
// by the formats' definitions) or from numpy (the .ref files of
// tests/data/torch), never from the library's own output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "format/model_path.h"
#include "format/torch_reader.h"
#include "io/fault_injection.h"
#include "io/file.h"
#include "load/tensor_source.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using test::half_value;
using test::read_refs;
using test::TempDir;
using test::torch_fixture;

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// BF16 by its definition: the top half of the F32, rounded to nearest even.
uint16_t bf16_of(float f) {
  uint32_t b = bits_of(f);
  return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

// A file of `lead` filler bytes, then each tensor's bytes in turn, and its table.
struct PlainModel {
  TempDir dir;
  std::string path = dir.file("plain.bin");
  TensorTable table;
  std::vector<std::shared_ptr<const File>> files;

  void build(const std::vector<std::pair<TensorInfo, std::vector<std::byte>>>& tensors, uint64_t lead = 40) {
    std::vector<std::byte> file(lead, std::byte{0x5a});
    std::vector<TensorInfo> infos;
    for (auto [info, bytes] : tensors) {
      info.offset = file.size();
      info.nbytes = bytes.size();
      info.file = 0;
      file.insert(file.end(), bytes.begin(), bytes.end());
      infos.push_back(info);
    }
    test::write_file(path, file);
    FileInfo f;
    f.path = path;
    f.size = file.size();
    table.add_file(f);
    for (auto& info : infos) table.add_tensor(std::move(info));
    auto opened = File::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error().to_string();
    files.push_back(std::make_shared<const File>(std::move(opened.value())));
  }
};

TensorInfo info(std::string name, DType dtype, std::vector<uint64_t> shape) {
  TensorInfo t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  return t;
}

// 1000 F32 values, all exact in F16 and BF16 (multiples of 1/4 below 256).
std::vector<float> exact_values() {
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 997) * 0.25f - 100.0f;
  return v;
}

class PlainSource : public ::testing::TestWithParam<IoMode> {
 protected:
  void SetUp() override {
    values_ = exact_values();
    // A Q8_0 block: F16 scale 0.5 (0x3800), then 32 int8 quants -16..15.
    std::vector<std::byte> q8(34);
    q8[0] = std::byte{0x00};
    q8[1] = std::byte{0x38};
    for (int k = 0; k < 32; ++k) q8[2 + k] = static_cast<std::byte>(static_cast<int8_t>(k - 16));
    std::vector<std::byte> q8_two = q8;
    q8_two.insert(q8_two.end(), q8.begin(), q8.end());
    std::vector<int64_t> ints{1, -2, int64_t{1} << 40, 4};
    model_.build({{info("f32", DType::F32, {values_.size()}), bytes_of(values_)},
                  {info("q8", DType::Q8_0, {64}), q8_two},
                  {info("i64", DType::I64, {4}), bytes_of(ints)}},
                 4096 + 40);  // unaligned for O_DIRECT: the bounce path must realign
  }
  TensorSource source() const { return TensorSource(model_.table, model_.files, GetParam(), log_); }

  PlainModel model_;
  std::vector<float> values_;
  Logger log_;
};

TEST_P(PlainSource, ReadsTheWholeTensorAndAnyRunOfBlocksAsStored) {
  TensorSource src = source();
  auto w = src.make_worker();
  std::vector<std::byte> all(values_.size() * 4);
  ASSERT_TRUE(src.read(w, 0, DType::F32, 0, values_.size(), all).ok());
  EXPECT_EQ(all, bytes_of(values_));
  for (auto [first, n] : {std::pair<uint64_t, uint64_t>{0, 1}, {3, 500}, {999, 1}, {123, 877}}) {
    SCOPED_TRACE(first);
    std::vector<std::byte> part(n * 4);
    Status s = src.read(w, 0, DType::F32, first, n, part);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(std::memcmp(part.data(), values_.data() + first, n * 4), 0);
  }
  auto whole = src.read_all(0, DType::F32);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, bytes_of(values_));
  EXPECT_GT(w.read_ns(), 0u);
}

TEST_P(PlainSource, ConvertsToF16AndBF16ByTheirDefinitions) {
  TensorSource src = source();
  auto w = src.make_worker();
  std::vector<uint16_t> h(300);
  std::vector<std::byte> scratch(8192);  // big enough: used instead of the worker's buffer
  ASSERT_TRUE(src.read(w, 0, DType::F16, 100, 300, std::as_writable_bytes(std::span(h)), scratch).ok());
  for (size_t k = 0; k < h.size(); ++k) ASSERT_EQ(half_value(h[k]), values_[100 + k]) << k;
  std::vector<uint16_t> b(values_.size());
  ASSERT_TRUE(src.read(w, 0, DType::BF16, 0, values_.size(), std::as_writable_bytes(std::span(b))).ok());
  for (size_t k = 0; k < b.size(); ++k) ASSERT_EQ(b[k], bf16_of(values_[k])) << k;
  EXPECT_GT(w.convert_ns(), 0u);
}

TEST_P(PlainSource, DequantizesQ8BlocksToF32) {
  TensorSource src = source();
  auto w = src.make_worker();
  std::vector<float> out(32);
  ASSERT_TRUE(src.read(w, 1, DType::F32, 1, 1, std::as_writable_bytes(std::span(out))).ok());  // the second block
  for (int k = 0; k < 32; ++k) EXPECT_EQ(out[k], 0.5f * static_cast<float>(k - 16)) << k;
  auto all = src.read_all(1, DType::F16);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 64u * 2);
  for (int k = 0; k < 64; ++k) {
    uint16_t v;
    std::memcpy(&v, all->data() + 2 * k, 2);
    EXPECT_EQ(half_value(v), 0.5 * ((k % 32) - 16)) << k;
  }
}

TEST_P(PlainSource, ValuesOutOfRangeAreAnErrorNamingFileTensorAndOffset) {
  TensorSource src = source();
  auto r = src.read_all(2, DType::I32);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, model_.path);
  EXPECT_EQ(r.error().tensor, "i64");
  EXPECT_EQ(r.error().offset, model_.table.tensors()[2].offset);
  EXPECT_NE(r.error().message.find("1 values do not fit I32"), std::string::npos) << r.error().message;
  auto w = src.make_worker();
  std::vector<int32_t> first_two(2);
  ASSERT_TRUE(src.read(w, 2, DType::I32, 0, 2, std::as_writable_bytes(std::span(first_two))).ok());
  EXPECT_EQ(first_two, (std::vector<int32_t>{1, -2}));
}

TEST_P(PlainSource, RefusesBadRequestsWithAnError) {
  TensorSource src = source();
  auto w = src.make_worker();
  std::vector<std::byte> dst(16);
  EXPECT_FALSE(src.read(w, 0, DType::F32, 999, 2, {dst.data(), 8}).ok());  // past the last block
  EXPECT_FALSE(src.read(w, 0, DType::F32, 0, 2, dst).ok());               // destination the wrong size
  EXPECT_FALSE(src.read(w, 2, DType::F16, 0, 2, {dst.data(), 4}).ok());   // I64 does not convert to F16
  EXPECT_FALSE(src.read(w, 7, DType::F32, 0, 1, {dst.data(), 4}).ok());   // no such tensor
}

TEST_P(PlainSource, ReadSourceLeavesTheFileBytesInTheRoomGiven) {
  TensorSource src = source();
  auto w = src.make_worker();
  // Page-aligned room, as the staging pool gives (O_DIRECT needs it).
  const uint64_t room_bytes = 64 * 4 + src.bounce_overhead();
  auto room = std::unique_ptr<std::byte[], decltype(&sys::aligned_free)>(
      static_cast<std::byte*>(sys::native_aligned_alloc(4096, (room_bytes + 4095) / 4096 * 4096)), &sys::aligned_free);
  auto at = src.read_source(w, 0, 10, 64, {room.get(), room_bytes});
  ASSERT_TRUE(at.ok()) << at.error().to_string();
  EXPECT_GE(*at, room.get());
  EXPECT_LE(*at + 64 * 4, room.get() + room_bytes);
  EXPECT_EQ(std::memcmp(*at, values_.data() + 10, 64 * 4), 0);
}

INSTANTIATE_TEST_SUITE_P(IoModes, PlainSource, ::testing::Values(IoMode::kRead, IoMode::kDirect, IoMode::kUring),
                         [](const auto& p) { return std::string(io_mode_name(p.param)); });

TEST(TensorSource, PreadNeedsNoBounceBuffer) {
  PlainModel m;
  m.build({{info("x", DType::F32, {4}), bytes_of(std::vector<float>{1, 2, 3, 4})}});
  TensorSource src(m.table, m.files, IoMode::kRead, Logger());
  EXPECT_EQ(src.mode(), IoMode::kRead);
  EXPECT_EQ(src.bounce_overhead(), 0u);
  EXPECT_FALSE(src.bounces(0));
}

// PyTorch checkpoints: views gathered from their storage, deflated entries
// inflated; the bytes are numpy's.
class TorchSource : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchSource, EveryTensorAsStoredAndConvertedMatchesNumpy) {
  const std::string path = torch_fixture(GetParam());
  auto file = File::open(path);
  ASSERT_TRUE(file.ok());
  auto table = parse_torch(FileSource(*file));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  auto refs = read_refs(path);
  ASSERT_EQ(table->tensors().size(), refs.size());
  auto shared = std::make_shared<const File>(std::move(file.value()));
  TensorSource src(*table, {shared}, IoMode::kRead, Logger());
  auto w = src.make_worker();
  size_t non_plain = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const TensorInfo& t = table->tensors()[i];
    SCOPED_TRACE(t.name);
    non_plain += !t.plain_source();
    auto all = src.read_all(i, t.dtype);
    ASSERT_TRUE(all.ok()) << all.error().to_string();
    EXPECT_EQ(*all, refs[i].bytes);
    if (t.dtype != DType::F32 || t.nbytes == 0) continue;
    // Converted to BF16, through read() with the worker (and no scratch).
    std::vector<uint16_t> b(t.nbytes / 4);
    Status s = src.read(w, i, DType::BF16, 0, b.size(), std::as_writable_bytes(std::span(b)));
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    for (size_t k = 0; k < b.size(); ++k) {
      float f;
      std::memcpy(&f, refs[i].bytes.data() + 4 * k, 4);
      ASSERT_EQ(b[k], bf16_of(f)) << k;
    }
    if (!t.plain_source() && b.size() > 1) {  // views and deflated entries are read whole
      EXPECT_FALSE(src.read(w, i, DType::BF16, 0, 1, std::as_writable_bytes(std::span(b).first(1))).ok());
    }
  }
  EXPECT_GT(non_plain, 0u) << "the fixture should hold views or deflated entries";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchSource, ::testing::Values("views.pt", "views_deflated.pt", "views_legacy.pt"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace wm
