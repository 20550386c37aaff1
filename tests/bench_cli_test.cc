// `weightmap bench`: every strategy runs in a child process, cold runs start
// from an evicted file, the limits are measured, the checksums of all
// strategies agree, and --plot writes a PNG (where gnuplot is installed).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <set>

#include "format/gguf_writer.h"
#include "page_cache_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

std::string write_model(const TempDir& dir) {
  std::string path = dir.file("m.gguf");
  GgufWriter w(3, 32);
  std::vector<std::byte> f16(2048 * 2048 * 2);  // 8 MiB: more than one read-ahead window
  auto p = test::pattern(f16.size(), 3);
  for (size_t k = 0; k < f16.size(); k += 2) {
    f16[k] = p[k];
    f16[k + 1] = static_cast<std::byte>(0x38 | (static_cast<uint8_t>(p[k + 1]) & 0x83));  // finite halves
  }
  w.add_tensor("w", DType::F16, {2048, 2048}, TensorData::bytes(f16));
  w.add_tensor("b", DType::F32, {256}, TensorData::bytes(std::vector<std::byte>(1024, std::byte{0x3e})));
  EXPECT_TRUE(w.write(path).ok());
  test::make_cold(path);
  return path;
}

TEST(BenchCli, RunsEveryStrategyColdAndWarmWithAgreeingChecksums) {
  WM_SKIP_UNDER_QEMU("`weightmap bench` starts itself again per strategy (/proc/self/exe), and an arm64 "
                         "program started from inside qemu-user runs only where binfmt_misc hands it to qemu");
  TempDir dir;
  std::string path = write_model(dir);
  auto r = test::run_cli("bench " + path + " --runs 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_GT(double(doc["limits"]["direct_read_gbps"]), 0);
  EXPECT_GT(double(doc["limits"]["memory_read_gbps"]), 0);
  EXPECT_GT(double(doc["limits"]["fresh_write_gbps"]), 0);
  EXPECT_EQ(uint64_t(doc["file_bytes"]), test::read_file(path).size());
  std::set<std::string> seen;
  std::string checksum;
  std::string why;
  bool cold_ok = test::can_make_cold(dir.path(), &why);
  for (auto x : doc["results"].get_array()) {
    std::string name{std::string_view(x["strategy"])};
    std::string cache{std::string_view(x["cache"])};
    seen.insert(name + "/" + cache);
    if (checksum.empty()) checksum = std::string(std::string_view(x["checksum"]));
    EXPECT_EQ(std::string_view(x["checksum"]), checksum) << name << " " << cache;
    EXPECT_GT(double(x["ttfr_ms"]), 0);
    EXPECT_GT(uint64_t(x["peak_rss_kib"]), 0u);
    if (cache == "cold" && cold_ok) {
      EXPECT_LT(double(x["residency_before"]), 0.01) << name;
    }
    if (cache == "warm" && test::residency_sees_page_cache(nullptr)) {
      EXPECT_GT(double(x["residency_before"]), 0.99) << name;
    }
    if (name == "direct" && cache == "cold" && cold_ok) {
      // O_DIRECT copies never enter the page cache: only the header the
      // parser read (and the kernel's read-ahead around it) may.
      EXPECT_LT(double(x["page_cache_bytes"]), 0.5 * double(doc["file_bytes"])) << name;
    }
  }
  // Six strategies, cold and warm; warm only where no file can be evicted
  // (Windows), which the run says.
  if (supports(Capability::kPageCacheEviction)) {
    EXPECT_EQ(seen.size(), 12u);
  } else {
    EXPECT_EQ(seen.size(), 6u);
    EXPECT_NE(r.err.find("no cold runs"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(bool(doc["checksums_agree"]));
}

TEST(BenchCli, StrategySubsetTextAndPlot) {
  WM_SKIP_UNDER_QEMU("`weightmap bench` starts itself again per strategy (/proc/self/exe), and an arm64 "
                         "program started from inside qemu-user runs only where binfmt_misc hands it to qemu");
  TempDir dir;
  std::string path = write_model(dir);
  std::string png = dir.file("bench.png");
  bool have_gnuplot = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  auto r = test::run_cli("bench " + path + " --warm --runs 2 --strategies mmap,read" +
                         (have_gnuplot ? " --plot " + png : std::string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mmap "), std::string::npos);
  EXPECT_NE(r.out.find("read "), std::string::npos);
  EXPECT_EQ(r.out.find("uring"), std::string::npos);
  EXPECT_EQ(r.out.find(" cold "), std::string::npos);
  EXPECT_NE(r.out.find("for every strategy and run"), std::string::npos) << r.out;
  if (have_gnuplot) {
    auto bytes = test::read_file(png);
    ASSERT_GT(bytes.size(), 1000u);
    EXPECT_EQ(static_cast<char>(bytes[1]), 'P');
    EXPECT_EQ(static_cast<char>(bytes[2]), 'N');
    EXPECT_EQ(static_cast<char>(bytes[3]), 'G');
  }
  auto bad = test::run_cli("bench " + path + " --strategies mmap,teleport");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("teleport"), std::string::npos);
}

}  // namespace
}  // namespace wm
