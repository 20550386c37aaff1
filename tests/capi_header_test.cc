// The C API's header compiled as C++ (-Wpedantic, and -Werror with
// WM_WERROR), and its defaults, names and numbers against the C++ API's: the
// C face must not drift from what it wraps. (That it compiles alone, as C99
// and as C++17, the consumer test "interface" checks on the installed copy.)
#include "weightmap/weightmap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

#include "weightmap/weightmap.hpp"

namespace {

TEST(CapiHeader, OptionsDefaultsAreTheCppDefaults) {
  const wm_options c = wm_options_default();
  const wm::Options cpp;
  EXPECT_EQ(c.struct_size, sizeof(wm_options));
  EXPECT_EQ(c.variant, nullptr);
  EXPECT_EQ(c.metadata_arrays != 0, cpp.metadata_arrays);
  EXPECT_EQ(c.n_components, 0u);
  EXPECT_EQ(c.use_mmap != 0, cpp.use_mmap);
  EXPECT_EQ(c.device_rules, nullptr);
  EXPECT_EQ(c.type_rules, nullptr);
  EXPECT_EQ(c.offload_to_cpu != 0, cpp.offload_to_cpu);
  EXPECT_EQ(c.n_devices, 0u);
  EXPECT_EQ(c.threads, cpp.threads);
  EXPECT_EQ(c.staging_bytes, cpp.staging_bytes);
  EXPECT_EQ(c.hints, nullptr);
  EXPECT_EQ(c.prefetch, WM_PREFETCH_BACKGROUND);
  EXPECT_EQ(cpp.prefetch, wm::PrefetchMode::kBackground);
  EXPECT_EQ(c.prefetch_workers, cpp.prefetch_workers);
  EXPECT_EQ(c.io, WM_IO_READ);
  EXPECT_EQ(cpp.io, wm::IoMode::kRead);
  EXPECT_EQ(c.cache_window_bytes, cpp.cache_window_bytes);
  EXPECT_EQ(c.max_memory_bytes, cpp.max_memory_bytes);
  EXPECT_EQ(c.lock_files != 0, cpp.lock_files);
  EXPECT_EQ(c.mlock != 0, cpp.mlock);
  EXPECT_EQ(c.shard_rank, cpp.shard.rank);
  EXPECT_EQ(c.shard_world, cpp.shard.world);
  EXPECT_EQ(c.shard_rules, nullptr);
  EXPECT_EQ(c.n_loras, 0u);
  EXPECT_EQ(c.lora_mode, WM_LORA_AUTO);
  EXPECT_EQ(cpp.lora.mode, wm::LoraApplyMode::kAuto);
  EXPECT_EQ(c.log, nullptr);
  EXPECT_EQ(c.progress, nullptr);

  const wm_lora_options lora = wm_lora_options_default();
  EXPECT_EQ(lora.struct_size, sizeof(wm_lora_options));
  EXPECT_EQ(lora.mode, WM_LORA_AUTO);
}

// Every wm::ErrorCode has its wm_status, with the same stable name.
TEST(CapiHeader, StatusNamesAreTheErrorCodeNames) {
  for (int code = 0; code <= static_cast<int>(wm::ErrorCode::kDevice); ++code) {
    const auto status = static_cast<wm_status>(code + 1);
    EXPECT_STREQ(wm_status_name(status), wm::error_code_name(static_cast<wm::ErrorCode>(code)));
  }
  EXPECT_STREQ(wm_status_name(WM_OK), "ok");
  EXPECT_STREQ(wm_status_name(WM_ERR_BUFFER_TOO_SMALL), "buffer_too_small");
}

// Every wm_dtype names the wm::DType of the same value.
TEST(CapiHeader, DtypesAreTheCppDtypes) {
  for (int t = 0; t < WM_DTYPE_COUNT; ++t) {
    const auto cpp = static_cast<wm::DType>(t);
    EXPECT_STREQ(wm_dtype_name(static_cast<wm_dtype>(t)), wm::dtype_name(cpp));
    EXPECT_EQ(wm_dtype_block_bytes(static_cast<wm_dtype>(t)), wm::dtype_block_bytes(cpp));
    EXPECT_EQ(wm_dtype_gguf_id(static_cast<wm_dtype>(t)), wm::dtype_gguf_id(cpp));
  }
  EXPECT_EQ(static_cast<int>(WM_DTYPE_COUNT), static_cast<int>(wm::DType::kCount));
}

TEST(CapiHeader, VersionIsTheCppVersion) {
  EXPECT_STREQ(wm_version(), wm::version());
  EXPECT_EQ(wm_version_number(), WEIGHTMAP_VERSION);
}

// The thread-local last error: a failure on one thread is not seen on another.
TEST(CapiHeader, LastErrorIsPerThread) {
  wm_dtype t;
  ASSERT_EQ(wm_dtype_from_name("NOPE", &t), WM_ERR_NOT_FOUND);
  std::string other;
  std::thread([&] { other = wm_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(wm_last_error()).find("NOPE"), std::string::npos);
}

}  // namespace
