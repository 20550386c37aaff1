// `weightmap inspect`: text and JSON agree with the parsed table, and bad
// input gives a non-zero exit with file, tensor and offset in the message.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "demo/sample_models.h"
#include "format/model_path.h"
#include "test_support.h"
#include "weightmap/version.hpp"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

// The CLI's version is the library's (it once printed a stale literal).
TEST(Cli, VersionIsTheLibrarysVersion) {
  auto r = wm::test::run_cli("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();  // "\r\n" on Windows
  EXPECT_EQ(out, fmt::format("weightmap {}", WEIGHTMAP_VERSION_STRING));
}

TEST(InspectCli, JsonListsEveryTensorAsTheParserSeesIt) {
  TempDir dir;
  auto paths = ensure_sample_models(dir.path(), {0}, {});
  ASSERT_TRUE(paths.ok()) << paths.error().to_string();
  auto table = open_model(paths->all());
  ASSERT_TRUE(table.ok()) << table.error().to_string();

  auto r = run_cli("inspect --json " + paths->text_encoder + " " + paths->transformer);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r.out).get(doc)) << r.out;

  simdjson::dom::array files = doc["files"];
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(std::string_view(files.at(0)["format"]), "gguf");
  EXPECT_EQ(std::string_view(files.at(1)["format"]), "safetensors");
  EXPECT_EQ(uint64_t(files.at(0)["size"]), table->files()[0].size);

  simdjson::dom::array tensors = doc["tensors"];
  ASSERT_EQ(tensors.size(), table->tensors().size());
  size_t k = 0;
  for (simdjson::dom::element t : tensors) {
    const TensorInfo& want = table->tensors()[k++];
    EXPECT_EQ(std::string_view(t["name"]), want.name);
    EXPECT_EQ(std::string_view(t["dtype"]), dtype_name(want.dtype));
    EXPECT_EQ(uint64_t(t["offset"]), want.offset);
    EXPECT_EQ(uint64_t(t["nbytes"]), want.nbytes);
    EXPECT_EQ(uint64_t(t["file"]), want.file);
    EXPECT_EQ(bool(t["aligned32"]), want.offset % 32 == 0);
    std::vector<uint64_t> shape;
    for (simdjson::dom::element d : simdjson::dom::array(t["shape"])) shape.push_back(uint64_t(d));
    EXPECT_EQ(shape, want.shape);
  }
}

TEST(InspectCli, GgufShapeIsOutermostFirst) {
  TempDir dir;
  auto paths = ensure_sample_models(dir.path(), {0}, {});
  ASSERT_TRUE(paths.ok());
  auto r = run_cli("inspect --json " + paths->text_encoder);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.out);
  for (simdjson::dom::element t : simdjson::dom::array(doc["tensors"])) {
    if (std::string_view(t["name"]) != "enc.blk.0.ffn_up.weight") continue;
    simdjson::dom::array shape = t["shape"];
    // ffn_up maps d -> ff: ff rows of d elements; GGUF stores ne = {d, ff}.
    EXPECT_EQ(uint64_t(shape.at(0)), 128u);
    EXPECT_EQ(uint64_t(shape.at(1)), 64u);
    return;
  }
  FAIL() << "tensor not listed";
}

TEST(InspectCli, TextNamesFormatAndTensors) {
  TempDir dir;
  auto paths = ensure_sample_models(dir.path(), {0}, {});
  ASSERT_TRUE(paths.ok());
  auto r = run_cli("inspect --metadata " + paths->text_encoder);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format gguf v3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("meta general.architecture (string) = t5encoder"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("enc.blk.0.attn_q.weight"), std::string::npos);
}

TEST(InspectCli, BadFileExitsNonZeroNamingFileAndOffset) {
  TempDir dir;
  std::string path = dir.file("bad.gguf");
  test::write_text(path, std::string("GGUF\x03\x00\x00\x00", 8));  // truncated after the version
  auto r = run_cli("inspect " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at byte 8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST(InspectCli, MissingFileIsAnError) {
  auto r = run_cli("inspect /nonexistent/model.safetensors");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wm
