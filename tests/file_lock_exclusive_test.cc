// --lock against another program's exclusive lock, on every platform: the
// shared lock weightmap takes (flock on POSIX when no lease is granted, a
// shared LockFileEx on Windows) refuses an exclusive one while the model is
// loaded and gives way on release; an exclusive lock already held fails the
// load, naming the file. Leases, lock-on-fault pinning and VmLck are POSIX
// matters: tests/file_lock_test.cc.
#include <gtest/gtest.h>

#include <fstream>

#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "load/loader.h"
#include "platform_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

std::string write_model(const TempDir& dir) {
  GgufWriter g;
  g.add_tensor("w", DType::F32, {64, 256}, TensorData::bytes(test::pattern(64 * 256 * 4, 5)));
  std::string path = dir.file("m.gguf");
  EXPECT_TRUE(g.write(path).ok());
  return path;
}

Result<LoadedModel> load_locked(const std::string& path) {
  auto table = open_model({path});
  if (!table) return table.error();
  LoadOptions o;
  o.lock_files = true;
  return load_model(std::move(table.value()), o);
}

TEST(FileLockExclusive, WhileLoadedAnExclusiveLockElsewhereIsRefusedAndAfterReleaseGranted) {
  TempDir dir;
  std::string path = write_model(dir);
  // Open for writing somewhere, so Linux grants no lease (a lease holds
  // writers off by breaking, FileLock.ALeaseHoldsWritersOff...) and the
  // shared lock is what is tested here.
  std::ofstream writer(path, std::ios::binary | std::ios::app);
  ASSERT_TRUE(writer.good());
  auto m = load_locked(path);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->report().file_locks, "flock");
  {
    test::ExclusiveLock other(path);
    EXPECT_FALSE(other.held());
  }
  ASSERT_TRUE(m->release().ok());
  test::ExclusiveLock after(path);
  EXPECT_TRUE(after.held());
}

TEST(FileLockExclusive, AnExclusiveLockHeldElsewhereFailsTheLoadNamingTheFile) {
  TempDir dir;
  std::string path = write_model(dir);
  test::ExclusiveLock other(path);
  ASSERT_TRUE(other.held());
  auto m = load_locked(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().file, path);
  EXPECT_NE(m.error().message.find("--lock"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find(" failed: "), std::string::npos) << m.error().message;
}

}  // namespace
}  // namespace wm
