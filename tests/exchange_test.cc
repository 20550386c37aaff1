// The ranks of a tensor-parallel load together (ShardOptions::collective),
// as threads of one process (thread_collective.h): with each rank holding
// its own copy of the model, the exchange mode reads each byte of the files
// once across the ranks and gives every rank exactly its slices (checked
// against the bytes the test wrote, by plain arithmetic); with one shared
// file the shared mode is chosen; one rank failing fails every rank,
// naming it; differing models are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <optional>

#include "weightmap/weightmap.hpp"

// Test inputs and the exchange's own parts.
#include "exchange/needed_runs.h"
#include "exchange/run_exchange.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "slice_expect.h"
#include "test_support.h"
#include "thread_collective.h"

namespace wm {
namespace {

using test::Bytes;
using test::cols_of;
using test::rows_of;
using test::TempDir;
using test::ThreadGroup;

// --- the parts ------------------------------------------------------------

TEST(ExchangeParts, RankPartsCoverTheRangeOnAlignedCuts) {
  for (uint32_t world : {1u, 2u, 3u, 4u, 7u}) {
    auto parts = rank_parts(100, 100 + (10u << 20) + 5, world, 1u << 20);
    ASSERT_EQ(parts.size(), world);
    EXPECT_EQ(parts.front().first, 100u);
    EXPECT_EQ(parts.back().second, 100u + (10u << 20) + 5);
    for (uint32_t k = 0; k + 1 < world; ++k) {
      EXPECT_EQ(parts[k].second, parts[k + 1].first);
      EXPECT_EQ(parts[k].second % (1u << 20), 0u) << "world " << world << " part " << k;
      EXPECT_LE(parts[k].first, parts[k].second);
    }
  }
  // A range smaller than the alignment: one rank takes it, the rest nothing.
  auto tiny = rank_parts(10, 4000, 4, 1u << 20);
  uint64_t total = 0;
  for (auto [a, b] : tiny) total += b - a;
  EXPECT_EQ(total, 3990u);
}

TEST(ExchangeParts, PiecesOfStridedRunsAreClippedInOrder) {
  // 4 pieces of 3 bytes every 10: [0,3) [10,13) [20,23) [30,33); then [50,60).
  FileRuns runs{{0, 4, 3, 10}, {50, 1, 10, 10}};
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for_each_piece(runs, 11, 55, [&](uint64_t off, uint64_t len) { got.push_back({off, len}); });
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint64_t>>{{11, 2}, {20, 3}, {30, 3}, {50, 5}}));
  EXPECT_EQ(bytes_within(runs, 0, 100), 22u);
  EXPECT_EQ(bytes_within(runs, 3, 10), 0u);
  EXPECT_EQ(bytes_within(runs, 60, 100), 0u);
}

TEST(ExchangeParts, DecodeRefusesMalformedRuns) {
  std::vector<FileRuns> runs{{{0, 4, 3, 10}}, {}};
  auto words = encode_runs(runs);
  auto back = decode_runs(words, 2);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, runs);
  EXPECT_FALSE(decode_runs(words, 3));                                   // a file missing
  EXPECT_FALSE(decode_runs(std::vector<uint64_t>{1, 0, 2, 8, 4, 0}, 2));  // stride below len
  EXPECT_FALSE(decode_runs(std::vector<uint64_t>{5, 0, 1}, 1));          // more runs than words
  EXPECT_FALSE(decode_runs(std::vector<uint64_t>{0, 0, 7}, 2));          // words left over
}

// --- the ranks together -----------------------------------------------------

// The exchange mode stages through io/staged_copy.h, which Windows lacks
// (the exchange is refused there, saying so).
#ifdef _WIN32
constexpr bool kStagedCopies = false;
#else
constexpr bool kStagedCopies = true;
#endif
#define SKIP_WITHOUT_STAGED_COPIES() \
  if (!kStagedCopies) GTEST_SKIP() << "staged copies (the exchange mode) are not available on this platform"

struct Written {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  Bytes bytes;
};

// A model whose tensors are cut every way: rows, columns, padded rows and
// columns, replicated, a quantised one by columns on block boundaries.
// (`gguf`: the quantised tensor; safetensors has no quantised types, so I8.)
std::vector<Written> model_tensors(bool gguf = true) {
  return {
      {"a.rows", DType::F32, {64, 96}, test::pattern(64 * 96 * 4, 1)},
      {"b.cols", DType::F16, {40, 128}, test::pattern(40 * 128 * 2, 2)},
      {"c.padrows", DType::F32, {7, 33}, test::pattern(7 * 33 * 4, 3)},
      {"d.padcols", DType::F32, {5, 10}, test::pattern(5 * 10 * 4, 4)},
      {"e.whole", DType::F32, {50}, test::pattern(50 * 4, 5)},
      gguf ? Written{"f.q", DType::Q8_0, {6, 128}, test::pattern(6 * 4 * 34, 6)}
           : Written{"f.q", DType::I8, {6, 128}, test::pattern(6 * 128, 6)},
  };
}
constexpr const char* kRules = "*.rows=rows,*.cols=cols,*.padrows=rows:pad,*.padcols=cols:pad,*.whole=replicate,f.q=cols";

// The bytes rank `r` of `w` must hold of `t`.
Bytes expected(const Written& t, uint32_t r, uint32_t w) {
  if (t.name == "a.rows") return rows_of(t.bytes, 96 * 4, r * 64 / w, 64 / w);
  if (t.name == "b.cols") return cols_of(t.bytes, 40, r * (128 / w) * 2, (128 / w) * 2);
  if (t.name == "c.padrows") {
    const uint64_t per = (7 + w - 1) / w, r0 = std::min<uint64_t>(7, r * per), n = std::min<uint64_t>(7, r0 + per) - r0;
    return rows_of(t.bytes, 33 * 4, r0, n, per - n);
  }
  if (t.name == "d.padcols") {
    const uint64_t per = (10 + w - 1) / w, c0 = std::min<uint64_t>(10, r * per), n = std::min<uint64_t>(10, c0 + per) - c0;
    return cols_of(t.bytes, 5, c0 * 4, n * 4, (per - n) * 4);
  }
  if (t.name == "f.q") return cols_of(t.bytes, 6, r * (t.bytes.size() / 6 / w), t.bytes.size() / 6 / w);
  return t.bytes;
}

std::string write_model(const std::string& path, const std::vector<Written>& tensors, bool gguf) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  Status s;
  if (gguf) {
    GgufWriter w;
    for (const auto& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
    s = w.write(path);
  } else {
    SafetensorsWriter w;
    for (const auto& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
    s = w.write(path);
  }
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return path;
}

struct RankRun {
  std::vector<std::optional<Result<Model>>> models;
};

// Opens paths[rank] on every rank of `group` at once.
RankRun open_ranks(ThreadGroup& group, const std::vector<std::string>& paths, const std::string& rules,
                   const std::function<void(uint32_t, Options&)>& tweak = {}) {
  RankRun run;
  run.models.resize(group.world());
  std::mutex m;
  group.run([&](uint32_t r) {
    Options o;
    o.shard.rank = r;
    o.shard.world = group.world();
    o.shard.rules = rules;
    o.shard.collective = group.member(r);
    o.shard.exchange_round_bytes = 4096;  // many rounds, windows that end mid-run
    if (tweak) tweak(r, o);
    auto model = open(paths[r], o);
    std::lock_guard<std::mutex> lock(m);
    run.models[r] = std::move(model);
  });
  return run;
}

std::vector<std::string> copies(const TempDir& dir, const std::string& name, uint32_t n,
                                const std::vector<Written>& tensors, bool gguf) {
  std::vector<std::string> paths;
  for (uint32_t r = 0; r < n; ++r) paths.push_back(write_model(dir.file("host" + std::to_string(r) + "/" + name), tensors, gguf));
  return paths;
}

void expect_slices(const RankRun& run, const std::vector<Written>& tensors, uint32_t world) {
  for (uint32_t r = 0; r < world; ++r) {
    ASSERT_TRUE(run.models[r].has_value());
    const auto& m = *run.models[r];
    ASSERT_TRUE(m) << "rank " << r << ": " << m.error().to_string();
    for (const Written& t : tensors) {
      const Tensor* got = m->find(t.name);
      ASSERT_NE(got, nullptr) << t.name;
      ASSERT_NE(got->host_data, nullptr) << t.name;
      EXPECT_EQ(Bytes(got->host_data, got->host_data + got->nbytes), expected(t, r, world))
          << "rank " << r << " of " << world << ": " << t.name;
    }
  }
}

class Exchange : public ::testing::TestWithParam<std::tuple<uint32_t, bool>> {};

TEST_P(Exchange, EachRankGetsItsSlicesAndEveryByteIsReadOnce) {
  SKIP_WITHOUT_STAGED_COPIES();
  const auto [world, gguf] = GetParam();
  TempDir dir;
  const auto tensors = model_tensors(gguf);
  const auto paths = copies(dir, gguf ? "m.gguf" : "m.safetensors", world, tensors, gguf);
  ThreadGroup group(world);
  RankRun run = open_ranks(group, paths, kRules);
  expect_slices(run, tensors, world);
  if (HasFailure()) return;

  uint64_t read = 0, sent = 0, received = 0, data_bytes = 0;
  for (const Written& t : tensors) data_bytes += t.bytes.size();
  for (uint32_t r = 0; r < world; ++r) {
    const Model& m = run.models[r]->value();
    const ShardReport& s = m.report().shard;
    EXPECT_EQ(s.mode, "exchange") << s.mode_reason;
    EXPECT_NE(s.mode_reason.find(std::to_string(world) + " copies"), std::string::npos) << s.mode_reason;
    EXPECT_GT(s.exchange_rounds, 1u);
    EXPECT_GT(s.exchange_read_bytes, 0u) << "rank " << r << " read none of the file";
    EXPECT_LT(s.exchange_read_bytes * (world - 1), data_bytes) << "rank " << r << " read more than its share";
    read += s.exchange_read_bytes;
    sent += s.exchange_sent_bytes;
    received += s.exchange_received_bytes;
    // What it staged is what its slices read from the file (padding is not in the file).
    uint64_t from_file = 0;
    for (const Written& t : tensors) {
      const Tensor& got = *m.find(t.name);
      from_file += got.nbytes;
      if (t.name == "c.padrows" || t.name == "d.padcols") {
        const Bytes want = expected(t, r, world);
        uint64_t zeros_at_end = 0;  // the padding expected() appended
        if (t.name == "c.padrows") {
          const uint64_t per = (7 + world - 1) / world, r0 = std::min<uint64_t>(7, r * per);
          zeros_at_end = (per - (std::min<uint64_t>(7, r0 + per) - r0)) * 33 * 4;
        } else {
          const uint64_t per = (10 + world - 1) / world, c0 = std::min<uint64_t>(10, r * per);
          zeros_at_end = (per - (std::min<uint64_t>(10, c0 + per) - c0)) * 4 * 5;
        }
        from_file -= zeros_at_end;
      }
    }
    EXPECT_EQ(s.staged_bytes, from_file) << "rank " << r;
    // Row slices stay zero copy: mapped, from the staged copy.
    const Tensor& rows = *m.find("a.rows");
    EXPECT_EQ(rows.placement, Placement::kMap) << rows.reason;
    EXPECT_EQ(m.find("b.cols")->placement, Placement::kCopy);
  }
  EXPECT_EQ(sent, received);
  // Every byte from the first tensor's to the last's is read once, by one rank.
  EXPECT_GE(read, data_bytes);
  EXPECT_LE(read, data_bytes + 32 * tensors.size());  // and the alignment padding between tensors
}

INSTANTIATE_TEST_SUITE_P(WorldAndFormat, Exchange,
                         ::testing::Combine(::testing::Values(2u, 4u), ::testing::Bool()),
                         [](const auto& p) {
                           return fmt::format("world{}_{}", std::get<0>(p.param),
                                              std::get<1>(p.param) ? "gguf" : "safetensors");
                         });

TEST(ExchangeMode, OneSharedFileChoosesTheSharedMode) {
  TempDir dir;
  const auto tensors = model_tensors(false);
  const std::string path = write_model(dir.file("m.safetensors"), tensors, false);
  ThreadGroup group(4);
  RankRun run = open_ranks(group, std::vector<std::string>(4, path), kRules);
  expect_slices(run, tensors, 4);
  for (uint32_t r = 0; r < 4 && !HasFailure(); ++r) {
    const ShardReport& s = run.models[r]->value().report().shard;
    EXPECT_EQ(s.mode, "shared");
    EXPECT_NE(s.mode_reason.find("same files on one host"), std::string::npos) << s.mode_reason;
    EXPECT_EQ(s.exchange_read_bytes, 0u);
    EXPECT_EQ(s.staged_bytes, 0u);
  }
}

TEST(ExchangeMode, AskedForItExchangesEvenOverOneFile) {
  SKIP_WITHOUT_STAGED_COPIES();
  TempDir dir;
  const auto tensors = model_tensors();
  const std::string path = write_model(dir.file("m.gguf"), tensors, true);
  ThreadGroup group(2);
  RankRun run = open_ranks(group, std::vector<std::string>(2, path), kRules,
                           [&](uint32_t, Options& o) { o.shard.mode = ShardMode::kExchange; o.shard.staging_dir = dir.path(); });
  expect_slices(run, tensors, 2);
  for (uint32_t r = 0; r < 2 && !HasFailure(); ++r) {
    const ShardReport& s = run.models[r]->value().report().shard;
    EXPECT_EQ(s.mode, "exchange");
    EXPECT_EQ(s.staging_dir, dir.path());
  }
  // The staged copies are unlinked: nothing is left in the folder but the model.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.path().filename() != "m.gguf";
  EXPECT_EQ(entries, 0u);
}

TEST(ExchangeMode, ExchangeWithoutACollectiveIsRefused) {
  TempDir dir;
  const std::string path = write_model(dir.file("m.safetensors"), model_tensors(false), false);
  Options o;
  o.shard = {0, 2, kRules, {}, nullptr, ShardMode::kExchange, {}, 1u << 20};
  auto m = open(path, o);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("exchange mode needs the other ranks"), std::string::npos) << m.error().message;
  o.shard.mode = ShardMode::kAuto;  // without one, auto is every rank on its own
  auto alone = open(path, o);
  ASSERT_TRUE(alone) << alone.error().to_string();
  EXPECT_EQ(alone->report().shard.mode, "shared");
  EXPECT_NE(alone->report().shard.mode_reason.find("no collective"), std::string::npos);
}

// Every rank failed; each error holds `reason` (the failing rank's); the
// others' errors also name the failing rank.
void expect_every_rank_failed(const RankRun& run, uint32_t failing, const std::string& reason) {
  const size_t world = run.models.size();
  for (uint32_t r = 0; r < world; ++r) {
    ASSERT_TRUE(run.models[r].has_value());
    ASSERT_FALSE(*run.models[r]) << "rank " << r << " loaded";
    const std::string text = run.models[r]->error().to_string();
    EXPECT_NE(text.find(reason), std::string::npos) << "rank " << r << ": " << text;
    if (r != failing) {
      EXPECT_NE(text.find(fmt::format("rank {} of {} failed", failing, world)), std::string::npos) << text;
    }
  }
}

TEST(ExchangeFailure, ARankWithoutItsFileFailsEveryRankNamingIt) {
  TempDir dir;
  const auto tensors = model_tensors(false);
  auto paths = copies(dir, "m.safetensors", 4, tensors, false);
  std::filesystem::remove(paths[2]);
  ThreadGroup group(4);
  RankRun run = open_ranks(group, paths, kRules);
  expect_every_rank_failed(run, 2, "host2/m.safetensors");
}

TEST(ExchangeFailure, AStagingFolderMissingOnOneRankFailsEveryRank) {
  SKIP_WITHOUT_STAGED_COPIES();
  TempDir dir;
  const auto tensors = model_tensors(false);
  auto paths = copies(dir, "m.safetensors", 2, tensors, false);
  ThreadGroup group(2);
  RankRun run = open_ranks(group, paths, kRules, [&](uint32_t r, Options& o) {
    o.shard.staging_dir = r == 1 ? dir.file("no-such-folder") : dir.path();
  });
  expect_every_rank_failed(run, 1, "no-such-folder");
}

TEST(ExchangeFailure, ARankFailingAfterTheExchangeFailsEveryRank) {
  SKIP_WITHOUT_STAGED_COPIES();
  TempDir dir;
  const auto tensors = model_tensors(false);
  auto paths = copies(dir, "m.safetensors", 2, tensors, false);
  ThreadGroup group(2);
  // Rank 1's memory limit refuses its column slices' copies: after the exchange, before its load ends.
  RankRun run = open_ranks(group, paths, kRules, [&](uint32_t r, Options& o) {
    if (r == 1) o.max_memory_bytes = 1;
  });
  expect_every_rank_failed(run, 1, "max");  // rank 1's own reason (its memory limit), on both
}

TEST(ExchangeFailure, RanksWithDifferentModelsAreRefused) {
  TempDir dir;
  auto tensors = model_tensors(false);
  std::vector<std::string> paths{write_model(dir.file("h0/m.safetensors"), tensors, false)};
  tensors[0].shape = {32, 192};  // same bytes, another shape
  paths.push_back(write_model(dir.file("h1/m.safetensors"), tensors, false));
  ThreadGroup group(2);
  RankRun run = open_ranks(group, paths, kRules);
  for (uint32_t r = 0; r < 2; ++r) {
    ASSERT_FALSE(*run.models[r]);
    EXPECT_NE(run.models[r]->error().message.find("rank 1's model differs from rank 0's"), std::string::npos)
        << run.models[r]->error().message;
  }
}

}  // namespace
}  // namespace wm
