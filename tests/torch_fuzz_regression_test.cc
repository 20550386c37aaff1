// Replays fuzz/regressions/torch_fuzz/ and the hostile fixtures through the
// checks fuzz/torch_fuzz.cc makes: a clean error or a sound table whose
// tensors read back whole, never a crash.
#include <gtest/gtest.h>

#include <filesystem>

#include "format/pickle_machine.h"
#include "format/torch_reader.h"
#include "format/torch_state_dict.h"
#include "load/source_transform.h"
#include "test_support.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

void replay(const fs::path& p) {
  SCOPED_TRACE(p.string());
  auto bytes = test::read_file(p.string());
  MemorySource src(bytes, p.string());
  auto table = parse_torch(src);
  if (table.ok()) {
    for (const auto& t : table->tensors()) {
      SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
      ASSERT_TRUE(size.nbytes.has_value());
      EXPECT_EQ(*size.nbytes, t.nbytes);
      std::vector<std::byte> out(t.nbytes);
      EXPECT_TRUE(read_transformed(src, t, out).ok()) << t.name;
    }
  } else {
    EXPECT_EQ(table.error().file, p.string());
    EXPECT_FALSE(table.error().message.empty());
  }
  PickleArena arena;
  auto r = unpickle(bytes, arena, p.string());
  if (r.ok()) {
    EXPECT_LE(r->consumed, bytes.size());
    try {
      collect_state_dict(arena, r->root, p.string(), {});
    } catch (const ParseFailure& f) {
      EXPECT_EQ(f.error.file, p.string());
    }
  }
}

TEST(TorchFuzzRegression, KeptInputsFailCleanly) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(WM_SOURCE_DIR) / "fuzz" / "regressions" / "torch_fuzz")) {
    replay(e.path());
    ++n;
  }
  EXPECT_GT(n, 0u);
}

TEST(TorchFuzzRegression, FixturesAndHostilePicklesFailCleanlyOrLoad) {
  for (const auto& e : fs::directory_iterator(fs::path(WM_SOURCE_DIR) / "tests" / "data" / "torch")) replay(e.path());
}

}  // namespace
}  // namespace wm
