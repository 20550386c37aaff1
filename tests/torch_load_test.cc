// Loading PyTorch checkpoints end to end: every tensor's bytes after
// load_model (mapped, copied, gathered from a view, inflated, converted, or
// uploaded to the sim device) equal the numpy references exported by
// scripts/make_torch_fixtures.py; mapped tensors point into the file.
#include <gtest/gtest.h>

#include <cstring>
#include <fmt/format.h>

#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using test::read_refs;
using test::torch_fixture;

std::vector<std::byte> tensor_bytes(const LoadedModel& model, const Tensor& t) {
  std::vector<std::byte> out(t.nbytes);
  if (t.nbytes == 0) return out;  // SimDevice::download memcpys even 0 bytes from a null span (UBSan)
  if (t.on_device) {
    EXPECT_TRUE(model.read_bytes(static_cast<size_t>(&t - model.tensors().data()), 0, out.data(), out.size()).ok());
  } else {
    EXPECT_NE(t.host_data, nullptr) << t.name;
    if (t.host_data) std::memcpy(out.data(), t.host_data, t.nbytes);
  }
  return out;
}

LoadedModel load(const std::string& fixture, const std::string& devices = {}, const std::string& types = {},
           bool mmap = true) {
  auto table = open_model({torch_fixture(fixture)});
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  LoadOptions o;
  o.plan.use_mmap = mmap;
  auto d = NameRules::parse(devices);
  auto t = NameRules::parse(types);
  EXPECT_TRUE(d.ok() && t.ok());
  if (d.ok()) o.plan.device_rules = d.value();
  if (t.ok()) o.plan.type_rules = t.value();
  o.staging_bytes = 64 << 10;
  auto model = load_model(std::move(table.value()), o);
  EXPECT_TRUE(model.ok()) << model.error().to_string();
  return model.ok() ? std::move(model.value()) : LoadedModel{};
}

class TorchLoad : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchLoad, EveryTensorMatchesItsReferenceOnEveryPath) {
  auto refs = read_refs(torch_fixture(GetParam()));
  for (const char* devices : {"", "sim"}) {
    for (bool mmap : {true, false}) {
      SCOPED_TRACE(fmt::format("devices '{}' mmap {}", devices, mmap));
      LoadedModel model = load(GetParam(), devices, {}, mmap);
      ASSERT_EQ(model.tensors().size(), refs.size());
      for (const auto& r : refs) {
        const Tensor* t = model.find(r.name);
        ASSERT_NE(t, nullptr) << r.name;
        EXPECT_EQ(tensor_bytes(model, *t), r.bytes) << r.name << " (" << placement_name(t->placement) << ")";
        const TensorInfo* info = model.table().find(r.name);
        ASSERT_NE(info, nullptr);
        if (!info->plain_source()) {
          EXPECT_EQ(t->placement, Placement::kCopy) << r.name;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchLoad,
                         ::testing::Values("dtypes.pt", "dtypes_legacy.pt", "views.pt", "views_legacy.pt",
                                           "views_deflated.pt", "nested.ckpt", "model_key.pth"));

TEST(TorchLoadMap, AlignedStoredTensorsAreMappedInPlace) {
  LoadedModel model = load("views.pt");
  const Tensor* base = model.find("base");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->placement, Placement::kMap) << base->reason;
  const Tensor* row = model.find("row_view");  // shares base's storage
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->placement, Placement::kMap) << row->reason;
  EXPECT_EQ(row->host_data, base->host_data + 12 * 4);
  const Tensor* tr = model.find("transposed");
  ASSERT_NE(tr, nullptr);
  EXPECT_EQ(tr->placement, Placement::kCopy);
  EXPECT_NE(tr->reason.find("non-contiguous view"), std::string::npos) << tr->reason;
  LoadedModel deflated = load("views_deflated.pt");
  const Tensor* b = deflated.find("base");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->placement, Placement::kCopy);
  EXPECT_NE(b->reason.find("compressed zip entry"), std::string::npos) << b->reason;
}

TEST(TorchLoadConvert, TransposedHalfViewConvertsToF32) {
  auto refs = read_refs(torch_fixture("views.pt"));
  const test::RefTensor* ref = nullptr;
  for (const auto& r : refs)
    if (r.name == "half_t") ref = &r;
  ASSERT_NE(ref, nullptr);
  for (const char* devices : {"", "sim"}) {
    LoadedModel model = load("views.pt", devices, "half_t=F32");
    const Tensor* t = model.find("half_t");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->placement, Placement::kConvert);
    auto got = tensor_bytes(model, *t);
    ASSERT_EQ(got.size(), ref->bytes.size() * 2);
    for (size_t i = 0; i < ref->bytes.size() / 2; ++i) {
      uint16_t h;
      float f;
      std::memcpy(&h, ref->bytes.data() + 2 * i, 2);
      std::memcpy(&f, got.data() + 4 * i, 4);
      EXPECT_EQ(static_cast<double>(f), test::half_value(h)) << i;
    }
  }
}

}  // namespace
}  // namespace wm

namespace wm {
namespace {

// Sets the CRC-32 of every zip entry named like "<x>/data/<key>" (in its
// local header and its central directory record) to a wrong value: the
// storage bytes stay as they were, so only a CRC check can tell.
std::vector<std::byte> with_wrong_storage_crcs(std::vector<std::byte> zip) {
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, zip.data() + at, 4);
    return v;
  };
  auto u16 = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, zip.data() + at, 2);
    return v;
  };
  for (size_t at = 0; at + 46 < zip.size(); ++at) {
    uint32_t sig = u32(at);
    size_t name_at = sig == 0x04034b50 ? at + 30 : sig == 0x02014b50 ? at + 46 : 0;
    size_t name_len_at = sig == 0x04034b50 ? at + 26 : at + 28;
    size_t crc_at = sig == 0x04034b50 ? at + 14 : at + 16;
    if (name_at == 0 || name_at + u16(name_len_at) > zip.size()) continue;
    std::string name(reinterpret_cast<const char*>(zip.data() + name_at), u16(name_len_at));
    if (name.find("/data/") != std::string::npos) test::poke_u32(zip, crc_at, u32(crc_at) ^ 0x5a5a5a5a);
  }
  return zip;
}

TEST(TorchLoadBad, ADeflatedStorageFailingItsCrcIsAnErrorNotWrongBytes) {
  test::TempDir dir;
  std::string path = dir.file("bad_crc.pt");
  test::write_file(path, with_wrong_storage_crcs(test::read_file(torch_fixture("views_deflated.pt"))));
  auto table = open_model({path});
  ASSERT_TRUE(table.ok()) << table.error().to_string();  // headers are fine: the data is checked when read
  auto model = load_model(std::move(table.value()), LoadOptions{});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().file, path);
  EXPECT_NE(model.error().message.find("fails its CRC check"), std::string::npos) << model.error().message;
  EXPECT_NE(model.error().message.find("/data/"), std::string::npos) << model.error().message;  // the entry
  EXPECT_FALSE(model.error().tensor.empty());
}

// transformers' sharded PyTorch checkpoints: pytorch_model.bin.index.json
// names the shard of each tensor, as for safetensors, with the same checks.
struct TorchShards {
  test::TempDir dir;
  std::vector<test::RefTensor> refs;
  std::string map;
  TorchShards() {
    const char* fixtures[] = {"nested.ckpt", "dtypes.pt"};
    for (int k = 0; k < 2; ++k) {
      std::string shard = fmt::format("pytorch_model-0000{}-of-00002.bin", k + 1);
      test::write_file(dir.file(shard), test::read_file(torch_fixture(fixtures[k])));
      for (auto& r : read_refs(torch_fixture(fixtures[k]))) {
        map += fmt::format("{}\"{}\": \"{}\"", map.empty() ? "" : ", ", r.name, shard);
        refs.push_back(std::move(r));
      }
    }
  }
  void write_index(const std::string& weight_map) const {
    test::write_text(dir.file("pytorch_model.bin.index.json"), "{\"metadata\": {}, \"weight_map\": {" + weight_map + "}}");
  }
};

TEST(TorchLoad, ShardedPytorchCheckpointLoadsEveryTensorFromItsShard) {
  TorchShards s;
  s.write_index(s.map);
  for (const std::string& path : {s.dir.path(), s.dir.file("pytorch_model.bin.index.json")}) {
    auto table = open_model({path});
    ASSERT_TRUE(table.ok()) << table.error().to_string();
    EXPECT_EQ(table->files().size(), 2u);
    auto model = load_model(std::move(table.value()), {});
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    ASSERT_EQ(model->tensors().size(), s.refs.size());
    for (const auto& r : s.refs) {
      const Tensor* t = model->find(r.name);
      ASSERT_NE(t, nullptr) << r.name;
      EXPECT_EQ(tensor_bytes(*model, *t), r.bytes) << r.name;  // numpy's bytes, exported by torch's script
    }
  }
}

TEST(TorchLoad, ShardedPytorchIndexIsCheckedLikeASafetensorsIndex) {
  TorchShards s;
  // A tensor assigned to the other shard.
  std::string wrong = s.map;
  size_t at = wrong.find("pytorch_model-00001-of-00002.bin");
  wrong.replace(at, 32, "pytorch_model-00002-of-00002.bin");
  s.write_index(wrong);
  auto bad = open_model({s.dir.file("pytorch_model.bin.index.json")});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("assigns it to shard"), std::string::npos) << bad.error().to_string();
  // A shard outside the folder.
  s.write_index("\"x\": \"../pytorch_model-00001-of-00002.bin\"");
  auto outside = open_model({s.dir.file("pytorch_model.bin.index.json")});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("not a relative path inside"), std::string::npos) << outside.error().to_string();
}

TEST(TorchLoad, SafetensorsBesideAShardedPytorchCheckpointWin) {
  TorchShards s;
  s.write_index(s.map);
  SafetensorsWriter w;
  w.add_tensor("from_safetensors", DType::F32, {1}, TensorData::bytes(std::vector<std::byte>(4)));
  ASSERT_TRUE(w.write(s.dir.file("model.safetensors")).ok());
  auto table = open_model({s.dir.path()});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 1u);
  EXPECT_EQ(table->tensors()[0].name, "from_safetensors");
}

}  // namespace
}  // namespace wm
