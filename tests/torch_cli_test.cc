// `weightmap inspect` and `weightmap load` on PyTorch checkpoints: names,
// dtypes and shapes against the numpy references, the map/copy decision per
// tensor with its reason, and hostile checkpoints refused with exit 1 and a
// message naming the global.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <sstream>

#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using test::read_refs;
using test::run_cli;
using test::torch_fixture;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class TorchCli : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchCli, InspectJsonListsTheReferenceTensors) {
  auto refs = read_refs(torch_fixture(GetParam()));
  auto r = run_cli("inspect --json " + torch_fixture(GetParam()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r.out).get(doc)) << r.out;
  std::string_view format;
  ASSERT_FALSE(doc["files"].at(0)["format"].get(format));
  EXPECT_TRUE(format == "torch" || format == "torch-legacy") << format;
  simdjson::dom::array tensors;
  ASSERT_FALSE(doc["tensors"].get(tensors));
  ASSERT_EQ(tensors.size(), refs.size());
  size_t i = 0;
  for (auto t : tensors) {
    std::string_view name, dtype;
    ASSERT_FALSE(t["name"].get(name));
    ASSERT_FALSE(t["dtype"].get(dtype));
    EXPECT_EQ(name, refs[i].name);
    EXPECT_EQ(dtype, refs[i].dtype);
    std::vector<uint64_t> shape;
    for (auto d : t["shape"].get_array()) shape.push_back(d.get_uint64().value());
    EXPECT_EQ(shape, refs[i].shape) << name;
    uint64_t nbytes = 0;
    ASSERT_FALSE(t["nbytes"].get(nbytes));
    EXPECT_EQ(nbytes, refs[i].bytes.size()) << name;
    ++i;
  }
}

TEST_P(TorchCli, LoadSucceedsMappedAndCopied) {
  for (const char* opts : {"", "--no-mmap ", "--device sim "}) {
    auto r = run_cli(std::string("load --json ") + opts + torch_fixture(GetParam()));
    EXPECT_EQ(r.exit_code, 0) << opts << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchCli,
                         ::testing::Values("dtypes.pt", "dtypes_legacy.pt", "views.pt", "views_legacy.pt",
                                           "views_deflated.pt", "nested.ckpt", "model_key.pth"));

TEST(TorchCliLoad, ReportsMapForAlignedStoredTensorsAndCopyForViews) {
  auto r = run_cli("load --tensors " + torch_fixture("views.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // base is a 64-byte aligned stored entry; transposed a non-contiguous view.
  bool base_mapped = false, transposed_copied = false;
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (contains(line, " base") && contains(line, "map")) base_mapped = true;
    if (contains(line, "transposed") && contains(line, "copy") && contains(line, "non-contiguous view"))
      transposed_copied = true;
  }
  EXPECT_TRUE(base_mapped) << r.out;
  EXPECT_TRUE(transposed_copied) << r.out;
  auto d = run_cli("load --tensors " + torch_fixture("views_deflated.pt"));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(contains(d.out, "compressed zip entry")) << d.out;
}

TEST(TorchCliHostile, RefusedWithTheGlobalNamedAndNothingRun) {
  std::filesystem::remove("/tmp/weightmap-pwned");
  for (const char* name : {"hostile_os_system.pt", "hostile_eval.pt"}) {
    for (const char* cmd : {"inspect ", "load "}) {
      auto r = run_cli(cmd + torch_fixture(name));
      EXPECT_EQ(r.exit_code, 1) << name << r.out;
      EXPECT_TRUE(contains(r.err, "is not allowed")) << r.err;
      EXPECT_TRUE(contains(r.err, name)) << r.err;
    }
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/weightmap-pwned"));
}

}  // namespace
}  // namespace wm
