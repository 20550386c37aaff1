// Replays every input kept in fuzz/regressions/<target>/ (crashers found by
// fuzzing and hand-made hostile files) through its parser: each must come
// back as a clean result or a clean error, and accepted tables must be sound.
#include <gtest/gtest.h>

#include <filesystem>

#include "format/gguf_reader.h"
#include "format/shard_index.h"
#include "format/safetensors_reader.h"
#include "../fuzz/fuzz_invariants.h"
#include "test_support.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_for(const std::string& target) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(WM_SOURCE_DIR) / "fuzz" / "regressions" / target))
    out.push_back(e.path());
  return out;
}

TEST(FuzzRegression, Gguf) {
  auto inputs = inputs_for("gguf_fuzz");
  ASSERT_FALSE(inputs.empty());
  for (const auto& p : inputs) {
    auto bytes = test::read_file(p.string());
    MemorySource src(bytes, p.string());
    auto table = parse_gguf(src);
    if (table.ok()) {
      EXPECT_EQ(table_invariant_violation(*table, bytes.size()), "") << p;
    } else {
      EXPECT_EQ(table.error().file, p.string());
    }
  }
}

TEST(FuzzRegression, Safetensors) {
  auto inputs = inputs_for("safetensors_fuzz");
  ASSERT_FALSE(inputs.empty());
  for (const auto& p : inputs) {
    auto bytes = test::read_file(p.string());
    MemorySource src(bytes, p.string());
    auto table = parse_safetensors(src);
    if (table.ok()) {
      EXPECT_EQ(table_invariant_violation(*table, bytes.size()), "") << p;
    } else {
      EXPECT_EQ(table.error().file, p.string());
    }
  }
}

TEST(FuzzRegression, SafetensorsIndex) {
  auto inputs = inputs_for("safetensors_index_fuzz");
  ASSERT_FALSE(inputs.empty());
  for (const auto& p : inputs) {
    auto bytes = test::read_file(p.string());
    std::string_view json(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto index = parse_safetensors_index(json, p.string());
    if (index.ok()) {
      EXPECT_EQ(index_invariant_violation(*index), "") << p;
    }
  }
}

// The hostile inputs kept here must be rejected, not merely survived.
TEST(FuzzRegression, HandMadeHostileInputsAreRejected) {
  for (const char* name : {"huge-tensor-count", "key-length-past-end", "deeply-nested-arrays", "element-overflow"}) {
    auto path = fs::path(WM_SOURCE_DIR) / "fuzz/regressions/gguf_fuzz" / name;
    auto bytes = test::read_file(path.string());
    EXPECT_FALSE(parse_gguf(MemorySource(bytes, name)).ok()) << name;
  }
  for (const char* name : {"header-length-huge", "overlap", "offset-bigint", "shape-overflow"}) {
    auto path = fs::path(WM_SOURCE_DIR) / "fuzz/regressions/safetensors_fuzz" / name;
    auto bytes = test::read_file(path.string());
    EXPECT_FALSE(parse_safetensors(MemorySource(bytes, name)).ok()) << name;
  }
  for (const char* name : {"parent-escape", "absolute"}) {
    auto path = fs::path(WM_SOURCE_DIR) / "fuzz/regressions/safetensors_index_fuzz" / name;
    auto bytes = test::read_file(path.string());
    EXPECT_FALSE(parse_safetensors_index({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, name).ok()) << name;
  }
}

}  // namespace
}  // namespace wm
