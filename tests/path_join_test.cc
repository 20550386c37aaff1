// join_path: one separator between folder and name, in the folder's own
// style where the platform has two ('/' and '\\' on Windows).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/path_join.h"

namespace wm {
namespace {

constexpr bool kBackslashToo = std::filesystem::path::preferred_separator == '\\';

TEST(PathJoin, OneSeparatorBetween) {
  EXPECT_EQ(join_path("models/sd", "vae"), "models/sd/vae");
  EXPECT_EQ(join_path("models/sd/", "vae"), "models/sd/vae");
  EXPECT_EQ(join_path("/", "m.gguf"), "/m.gguf");
  EXPECT_EQ(join_path("", "m.gguf"), "m.gguf");
  EXPECT_EQ(join_path("models", "shards/a.safetensors"), "models/shards/a.safetensors");
}

TEST(PathJoin, TheFoldersStyleWins) {
  if (!kBackslashToo) {
    // A backslash is an ordinary character in a POSIX name.
    EXPECT_EQ(join_path("odd\\name", "x"), "odd\\name/x");
    return;
  }
  EXPECT_EQ(join_path("C:\\models\\sd", "vae/model.safetensors"), "C:\\models\\sd\\vae\\model.safetensors");
  EXPECT_EQ(join_path("C:/models/sd", "vae\\model.safetensors"), "C:/models/sd/vae/model.safetensors");
  EXPECT_EQ(join_path("C:\\models\\", "x"), "C:\\models\\x");
  EXPECT_EQ(join_path("C:/models\\sd", "x"), "C:/models\\sd/x");  // mixed: '/' (what std::filesystem reads either way)
}

}  // namespace
}  // namespace wm
