// Several threads loading, using and releasing models at once, as engines
// do: mapped with a background prefetch, copied by the loader's workers, on
// the sim device, under a tight mmap limit, with LoRAs applied and removed,
// several passes over one shared model. Every result must equal the one
// computed alone beforehand. CI runs this under ThreadSanitizer; the time
// is bounded (WM_STRESS_SECONDS, default 2).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <random>
#include <thread>

#include "compute/pass.h"
#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "io/mmap_limiter.h"
#include "load/loader.h"
#include "verify/verify.h"
#include "lora_test_support.h"
#include "test_support.h"
#include "lora/apply.h"

namespace wm {
namespace {

using test::TempDir;
using Clock = std::chrono::steady_clock;

double stress_seconds() {
  const char* s = std::getenv("WM_STRESS_SECONDS");
  return s ? std::atof(s) : 2.0;
}

// Three models: GGUF (mapped), safetensors with an odd-sized first tensor
// (the rest unaligned: copied), and a second GGUF for the sim device.
struct Models {
  TempDir dir;
  std::vector<std::string> paths;
  std::string lora;
  Models() {
    for (int m = 0; m < 2; ++m) {
      GgufWriter g;
      for (int i = 0; i < 6; ++i)
        g.add_tensor(fmt::format("blk.{}.weight", i), DType::F16, {64, 256},
                     TensorData::bytes(test::random_weights(DType::F16, 64, 256, static_cast<uint64_t>(10 * m + i))));
      paths.push_back(dir.file(fmt::format("m{}.gguf", m)));
      EXPECT_TRUE(g.write(paths.back()).ok());
    }
    SafetensorsWriter st;
    st.add_tensor("odd", DType::BF16, {3}, TensorData::bytes(test::pattern(6, 1)));
    for (int i = 0; i < 4; ++i)
      st.add_tensor(fmt::format("w{}", i), DType::F32, {32, 128},
                    TensorData::bytes(test::random_weights(DType::F32, 32, 128, static_cast<uint64_t>(100 + i))));
    paths.push_back(dir.file("s.safetensors"));
    EXPECT_TRUE(st.write(paths.back()).ok());
    lora_test::Factors f = lora_test::random_factors(64, 256, 2, 5, 1.0f);
    lora = dir.file("l.safetensors");
    lora_test::write_lora_safetensors(lora, {{"blk.0", lora_test::Convention::kLlamaCpp, &f, {64, 256}}});
  }
};

enum class Way { kMappedBackground, kMappedWait, kCopied, kSim };

Result<LoadedModel> load(const std::string& path, Way way) {
  auto table = open_model({path});
  if (!table) return table.error();
  LoadOptions o;
  o.threads = 2;
  o.staging_bytes = 64 << 10;  // several chunks per tensor: workers contend for slots
  o.hints = MmapHints().with(MmapHint::kPopulate);
  o.prefetch = way == Way::kMappedWait ? PrefetchMode::kWait : PrefetchMode::kBackground;
  o.prefetch_workers = 2;
  if (way == Way::kCopied) o.plan.use_mmap = false;
  if (way == Way::kSim) {
    auto rules = NameRules::parse("*=sim");
    if (!rules) return rules.error();
    o.plan.device_rules = *rules;
  }
  return load_model(std::move(table.value()), o);
}

Result<uint64_t> checksum(const LoadedModel& m) {
  PassOptions o;
  o.threads = 2;
  auto r = compute_pass(m, o);
  if (!r) return r.error();
  return r->checksum;
}

TEST(Concurrency, LoadsUsesAndReleasesFromManyThreads) {
  Models models;
  // What each model computes, loaded alone (the pass checksum does not
  // depend on how a model was loaded).
  std::vector<uint64_t> expected;
  for (const auto& p : models.paths) {
    auto m = load(p, Way::kMappedWait);
    ASSERT_TRUE(m.ok()) << m.error().to_string();
    auto c = checksum(*m);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    expected.push_back(*c);
  }
  // A model every thread reads at once (concurrent reads are allowed).
  auto shared = load(models.paths[0], Way::kMappedBackground);
  ASSERT_TRUE(shared.ok());

  // A tight mmap limit: some loads fall back to reading, concurrently.
  MmapLimits saved = mmap_limits();
  set_mmap_limits({.max_files = mmap_usage().files + 3, .max_bytes = 0});

  const auto deadline = Clock::now() + std::chrono::duration<double>(stress_seconds());
  std::atomic<uint64_t> rounds{0}, failures{0};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    while (Clock::now() < deadline && failures == 0) {
      size_t which = rng() % models.paths.size();
      Way way = static_cast<Way>(rng() % 4);
      auto m = load(models.paths[which], way);
      if (!m) {
        ADD_FAILURE() << m.error().to_string();
        ++failures;
        return;
      }
      switch (rng() % 5) {
        case 0: break;  // released at once, the prefetch perhaps still running
        case 1: {
          auto c = checksum(*m);
          if (!c || *c != expected[which]) {
            ADD_FAILURE() << (c ? "checksum differs" : c.error().to_string());
            ++failures;
          }
          break;
        }
        case 2: {
          auto v = verify_model(*m);
          if (!v || !v->ok()) {
            ADD_FAILURE() << (v ? "verify found a difference" : v.error().to_string());
            ++failures;
          }
          break;
        }
        case 3: {
          auto c = checksum(*shared);
          if (!c || *c != expected[0]) {
            ADD_FAILURE() << (c ? "shared checksum differs" : c.error().to_string());
            ++failures;
          }
          break;
        }
        case 4: {
          if (which == 2) break;  // the LoRA is for the GGUF models
          LoraOptions lo;
          lo.mode = LoraApplyMode::kImmediately;
          auto r = apply_loras(*m, {{models.lora, 1.0f}}, lo);
          if (!r || r->tensors_patched != 1) {
            ADD_FAILURE() << (r ? "LoRA patched no tensor" : r.error().to_string());
            ++failures;
            break;
          }
          auto c = checksum(*m);
          auto removed = remove_loras(*m);
          auto back = checksum(*m);
          if (!c || *c == expected[which] || !removed || !back || *back != expected[which]) {
            ADD_FAILURE() << "LoRA apply/remove gave wrong results";
            ++failures;
          }
          break;
        }
      }
      // An eviction the platform cannot do (Windows) is reported, and the
      // release still happens (model.hpp).
      if (Status s = m->release(rng() % 2 == 0);
          !s && !(s.error().code == ErrorCode::kUnsupported && !supports(Capability::kPageCacheEviction))) {
        ADD_FAILURE() << s.error().to_string();
        ++failures;
      }
      ++rounds;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back(worker, 1234 + t);
  for (auto& t : threads) t.join();
  set_mmap_limits(saved);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GE(rounds.load(), 4u);  // every thread got through at least a round, on average
  auto c = checksum(*shared);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, expected[0]);
  std::printf("stress: %llu rounds in %.1f s\n", static_cast<unsigned long long>(rounds.load()), stress_seconds());
}

TEST(Concurrency, ManyThreadsWaitOnOnePrefetch) {
  // Engines wait for tensors from several threads: every wait returns, ready.
  Models models;
  for (int round = 0; round < 20; ++round) {
    auto m = load(models.paths[round % 2], Way::kMappedBackground);
    ASSERT_TRUE(m.ok());
    std::vector<std::thread> waiters;
    std::atomic<int> ok{0};
    for (int t = 0; t < 3; ++t)
      waiters.emplace_back([&] {
        for (size_t i = 0; i < m->tensors().size(); ++i)
          if (m->wait_ready(i)) ++ok;
      });
    for (auto& w : waiters) w.join();
    EXPECT_EQ(ok.load(), static_cast<int>(3 * m->tensors().size()));
    ASSERT_TRUE(m->release().ok());
  }
}

}  // namespace
}  // namespace wm
