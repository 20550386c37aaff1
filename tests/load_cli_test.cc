// `weightmap load`: the --json report parses and matches the mode asked for
// (expectations computed here from the parsed files), text output, and bad
// options give exit 1 with a message.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>

#include "demo/sample_models.h"
#include "format/model_path.h"
#include "page_cache_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// What a CPU needs to read a dtype in place, from the types themselves:
// scalars their size, quantised blocks their F16 scale.
uint64_t natural_alignment(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: return 2;
    case DType::F64: case DType::I64: return 8;
    case DType::U8: case DType::I8: return 1;
    default: ADD_FAILURE() << "sample set has an unexpected dtype " << dtype_name(t); return 1;
  }
}

class LoadCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = ensure_sample_models(dir_.path(), {0}, {});
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    paths_ = p.value();
    auto t = open_model(paths_.all());
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    table_ = std::move(t.value());
    args_ = " " + paths_.text_encoder + " " + paths_.transformer;
    for (const auto& t2 : table_.tensors()) {
      total_ += t2.nbytes;
      if (t2.offset % natural_alignment(t2.dtype) == 0) aligned_ += t2.nbytes;
    }
    for (const auto& f : table_.files()) file_bytes_ += f.size;
  }

  // Runs `load` with `options` and parses its JSON; fails the test on a bad exit or bad JSON.
  simdjson::dom::element load_json(const std::string& options, test::CommandResult* result = nullptr) {
    auto r = run_cli("load --json " + options + args_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    simdjson::dom::element doc;
    auto err = parser_.parse(r.out).get(doc);
    EXPECT_FALSE(err) << "not JSON: " << r.out;
    if (result) *result = r;
    return doc;
  }

  TempDir dir_;
  SampleModelPaths paths_;
  TensorTable table_;
  std::string args_;
  uint64_t total_ = 0, aligned_ = 0, file_bytes_ = 0;
  simdjson::dom::parser parser_;
};

TEST_F(LoadCli, JsonDefaultMapsEveryAlignedTensor) {
  test::CommandResult r;
  simdjson::dom::element doc = load_json("", &r);
  EXPECT_EQ(uint64_t(doc["tensors"]), table_.tensors().size());
  EXPECT_EQ(uint64_t(doc["bytes_total"]), total_);
  EXPECT_EQ(uint64_t(doc["bytes_mapped"]), aligned_);
  EXPECT_EQ(uint64_t(doc["bytes_copied"]), total_ - aligned_);
  EXPECT_EQ(uint64_t(doc["bytes_converted"]), 0u);
  EXPECT_EQ(uint64_t(doc["tensors_mapped"]) + uint64_t(doc["tensors_copied"]) + uint64_t(doc["tensors_converted"]),
            table_.tensors().size());
  EXPECT_EQ(uint64_t(doc["host_copy_bytes"]), total_ - aligned_);
  EXPECT_EQ(uint64_t(doc["device_bytes"]), 0u);
  EXPECT_EQ(uint64_t(doc["tensors_host_resident"]), 0u);
  EXPECT_EQ(uint64_t(doc["threads"]), 2u);
  double total_ms = doc["time_ms"]["total"];
  EXPECT_GT(total_ms, 0.0);
  EXPECT_GE(total_ms, double(doc["time_ms"]["parse"]));
  for (const char* phase : {"plan", "map", "read", "convert", "upload"}) EXPECT_GE(double(doc["time_ms"][phase]), 0.0);
  uint64_t peak = doc["rss"]["peak_kib"], anon = doc["rss"]["anon_kib"], file = doc["rss"]["file_kib"];
  EXPECT_GT(peak, 0u);
  if (supports(Capability::kProcessMemory)) {  // else only the working set is known (wine)
    EXPECT_GT(anon, 0u);
    EXPECT_GT(file, 0u);  // at least the program's own code pages
  }
  EXPECT_GE(peak, anon);
  EXPECT_EQ(uint64_t(doc["file_bytes"]), file_bytes_);
  uint64_t cached = doc["page_cache_bytes"];
  EXPECT_LE(cached, file_bytes_);
  if (test::residency_sees_page_cache(nullptr)) {
    EXPECT_GT(cached, 0u);  // just written and parsed
  }
  EXPECT_LE(uint64_t(doc["staging"]["peak_bytes"]), uint64_t(doc["staging"]["budget_bytes"]));
  // The INFO log names each mapped file; nothing of a progress bar when piped.
  EXPECT_TRUE(contains(r.err, "using mmap for '" + paths_.text_encoder + "'")) << r.err;
  EXPECT_TRUE(contains(r.err, "using mmap for '" + paths_.transformer + "'")) << r.err;
  EXPECT_FALSE(test::draws_progress(r.err)) << r.err;
  EXPECT_FALSE(contains(r.out, "loading")) << r.out;
}

TEST_F(LoadCli, NoMmapCopiesEverything) {
  test::CommandResult r;
  simdjson::dom::element doc = load_json("--no-mmap", &r);
  EXPECT_EQ(uint64_t(doc["bytes_total"]), total_);
  EXPECT_EQ(uint64_t(doc["bytes_copied"]), total_);
  EXPECT_EQ(uint64_t(doc["bytes_mapped"]), 0u);
  EXPECT_EQ(uint64_t(doc["bytes_converted"]), 0u);
  EXPECT_EQ(uint64_t(doc["tensors_copied"]), table_.tensors().size());
  EXPECT_EQ(uint64_t(doc["host_copy_bytes"]), total_);
  EXPECT_FALSE(contains(r.err, "using mmap")) << r.err;
}

TEST_F(LoadCli, TypeF16ConvertsTheOtherFloats) {
  uint64_t want_converted = 0, n = 0;
  for (const auto& t : table_.tensors())
    if (t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::Q8_0) want_converted += t.nbytes, ++n;
  ASSERT_GT(n, 0u);
  simdjson::dom::element doc = load_json("--type F16");
  EXPECT_EQ(uint64_t(doc["bytes_converted"]), want_converted);
  EXPECT_EQ(uint64_t(doc["tensors_converted"]), n);
  EXPECT_EQ(uint64_t(doc["bytes_mapped"]) + uint64_t(doc["bytes_copied"]) + uint64_t(doc["bytes_converted"]), total_);
}

TEST_F(LoadCli, SimDeviceHoldsEveryByte) {
  simdjson::dom::element doc = load_json("--device sim");
  EXPECT_EQ(uint64_t(doc["bytes_copied"]), total_);
  EXPECT_EQ(uint64_t(doc["device_bytes"]), total_);
  EXPECT_EQ(uint64_t(doc["host_copy_bytes"]), 0u);
  EXPECT_GT(uint64_t(doc["staging"]["peak_bytes"]), 0u);
  EXPECT_LE(uint64_t(doc["staging"]["peak_bytes"]), uint64_t(doc["staging"]["budget_bytes"]));
}

TEST_F(LoadCli, DeviceRulesByNameAndOffload) {
  simdjson::dom::element split = load_json("--device 'enc.*=cpu,token_embd.*=cpu,*=sim' --tensors");
  uint64_t device_bytes = 0;
  for (const auto& t : table_.tensors())
    if (t.file == 1) device_bytes += t.nbytes;
  EXPECT_EQ(uint64_t(split["device_bytes"]), device_bytes);
  for (simdjson::dom::element t : simdjson::dom::array(split["per_tensor"])) {
    std::string_view name = t["name"];
    bool te = name.starts_with("enc.") || name.starts_with("token_embd.");
    EXPECT_EQ(std::string_view(t["device"]), te ? "cpu" : "sim") << name;
  }

  simdjson::dom::element off = load_json("--device sim --offload-to-cpu");
  EXPECT_EQ(uint64_t(off["tensors_host_resident"]), table_.tensors().size());
  EXPECT_EQ(uint64_t(off["device_bytes"]), 0u);
  EXPECT_EQ(uint64_t(off["bytes_mapped"]), aligned_);
}

TEST_F(LoadCli, PerTensorListMatchesTheFiles) {
  simdjson::dom::element doc = load_json("--no-mmap --tensors");
  simdjson::dom::array list = doc["per_tensor"];
  ASSERT_EQ(list.size(), table_.tensors().size());
  size_t k = 0;
  for (simdjson::dom::element t : list) {
    const TensorInfo& want = table_.tensors()[k++];
    EXPECT_EQ(std::string_view(t["name"]), want.qualified_name());
    EXPECT_EQ(std::string_view(t["placement"]), "copy");
    EXPECT_EQ(std::string_view(t["device"]), "cpu");
    EXPECT_EQ(std::string_view(t["dtype"]), dtype_name(want.dtype));
    EXPECT_EQ(uint64_t(t["nbytes"]), want.nbytes);
    EXPECT_FALSE(bool(t["host_resident"]));
    EXPECT_EQ(std::string_view(t["reason"]), "mmap disabled");
  }
}

TEST_F(LoadCli, SmallStagingBudgetHolds) {
  simdjson::dom::element doc = load_json("--staging-mb 1 --threads 8 --device sim --type F32");
  uint64_t budget = doc["staging"]["budget_bytes"], peak = doc["staging"]["peak_bytes"];
  EXPECT_LE(budget, 1u << 20);
  EXPECT_GT(peak, 0u);
  EXPECT_LE(peak, budget);
  EXPECT_EQ(uint64_t(doc["bytes_mapped"]), 0u);
}

TEST_F(LoadCli, TextReportForPeople) {
  auto r = run_cli("load" + args_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, std::to_string(table_.tensors().size()) + " tensors")) << r.out;
  EXPECT_TRUE(contains(r.out, "mapped")) << r.out;
  EXPECT_TRUE(contains(r.out, "page cache:")) << r.out;
  EXPECT_TRUE(contains(r.out, "peak RSS")) << r.out;
  EXPECT_FALSE(test::draws_progress(r.err)) << r.err;  // stderr is not a terminal: no progress bar

  auto listed = run_cli("load --no-mmap --tensors" + args_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "(mmap disabled)")) << listed.out;
  EXPECT_TRUE(contains(listed.out, table_.tensors().front().name)) << listed.out;
}

TEST_F(LoadCli, BadDeviceIsExitOneWithAMessage) {
  auto gpu = run_cli("load --json --device gpu" + args_);
  EXPECT_EQ(gpu.exit_code, 1);
  EXPECT_TRUE(contains(gpu.err, "weightmap: error:")) << gpu.err;
  EXPECT_TRUE(contains(gpu.err, "unknown device 'gpu'")) << gpu.err;
  EXPECT_TRUE(gpu.out.empty()) << gpu.out;

  // Even when the rule matches no tensor.
  auto unused = run_cli("load --device 'vae.*=gpu'" + args_);
  EXPECT_EQ(unused.exit_code, 1);
  EXPECT_TRUE(contains(unused.err, "unknown device 'gpu'")) << unused.err;

  auto malformed = run_cli("load --device '=cpu'" + args_);
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_TRUE(contains(malformed.err, "PATTERN=VALUE")) << malformed.err;
}

TEST_F(LoadCli, BadTypeIsExitOneWithAMessage) {
  auto unknown = run_cli("load --json --type F17" + args_);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "unknown dtype 'F17'")) << unknown.err;
  EXPECT_TRUE(unknown.out.empty()) << unknown.out;

  // A rule naming a tensor that cannot take the type: the message names it.
  auto impossible = run_cli("load --type 'enc.output_norm.weight=I32'" + args_);
  EXPECT_EQ(impossible.exit_code, 1);
  EXPECT_TRUE(contains(impossible.err, "enc.output_norm.weight")) << impossible.err;
  EXPECT_TRUE(contains(impossible.err, "cannot convert F32 to I32")) << impossible.err;
  EXPECT_TRUE(contains(impossible.err, paths_.text_encoder)) << impossible.err;
}

TEST_F(LoadCli, BadPathsAndNumbers) {
  auto missing = run_cli("load " + dir_.file("nope.gguf"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, dir_.file("nope.gguf"))) << missing.err;

  auto zero = run_cli("load --staging-mb 0" + args_);
  EXPECT_NE(zero.exit_code, 0);
  auto no_threads = run_cli("load --threads 0" + args_);
  EXPECT_NE(no_threads.exit_code, 0);
}

}  // namespace
}  // namespace wm
