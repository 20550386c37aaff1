// `weightmap load --shard RANK/WORLD|auto --split RULES`: on small generated
// safetensors (Hugging Face names) and GGUF (llama.cpp names) models, every
// rank's --json report parses, its "shard" object and per-tensor "slice"
// objects say which rows or columns it took (expectations from the specs
// written here), the ranks' bytes add up to the model's, "auto" reads the
// launcher's environment, and bad flags or uncuttable tensors fail naming
// what is wrong (and the rank).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dtype/dtype.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "test_support.h"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

enum class Cut { kWhole, kRows, kCols };

struct Spec {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  Cut cut;  // what the "llama" preset does to it
};

// Hugging Face names: the llama preset splits the projections into a layer
// by rows, those out of it by columns, embeddings and head by (padded) rows,
// and leaves the norms whole.
const std::vector<Spec> kHfModel = {
    {"model.embed_tokens.weight", DType::F16, {64, 32}, Cut::kRows},
    {"model.layers.0.input_layernorm.weight", DType::F32, {32}, Cut::kWhole},
    {"model.layers.0.self_attn.q_proj.weight", DType::F16, {32, 32}, Cut::kRows},
    {"model.layers.0.self_attn.k_proj.weight", DType::F16, {16, 32}, Cut::kRows},
    {"model.layers.0.self_attn.v_proj.weight", DType::F16, {16, 32}, Cut::kRows},
    {"model.layers.0.self_attn.o_proj.weight", DType::F16, {32, 32}, Cut::kCols},
    {"model.layers.0.mlp.gate_proj.weight", DType::BF16, {64, 32}, Cut::kRows},
    {"model.layers.0.mlp.up_proj.weight", DType::BF16, {64, 32}, Cut::kRows},
    {"model.layers.0.mlp.down_proj.weight", DType::BF16, {32, 64}, Cut::kCols},
    {"model.norm.weight", DType::F32, {32}, Cut::kWhole},
    {"lm_head.weight", DType::F16, {64, 32}, Cut::kRows},
};

// llama.cpp names, quantised projections (Q8_0 blocks of 32 along a row:
// 128 columns cut into 4 are one block each).
const std::vector<Spec> kGgufModel = {
    {"token_embd.weight", DType::Q8_0, {64, 128}, Cut::kRows},
    {"blk.0.attn_norm.weight", DType::F32, {128}, Cut::kWhole},
    {"blk.0.attn_q.weight", DType::Q8_0, {128, 128}, Cut::kRows},
    {"blk.0.attn_k.weight", DType::Q8_0, {64, 128}, Cut::kRows},
    {"blk.0.attn_v.weight", DType::Q8_0, {64, 128}, Cut::kRows},
    {"blk.0.attn_output.weight", DType::Q8_0, {128, 128}, Cut::kCols},
    {"blk.0.ffn_norm.weight", DType::F32, {128}, Cut::kWhole},
    {"blk.0.ffn_gate.weight", DType::F16, {256, 128}, Cut::kRows},
    {"blk.0.ffn_up.weight", DType::F16, {256, 128}, Cut::kRows},
    {"blk.0.ffn_down.weight", DType::Q8_0, {128, 256}, Cut::kCols},
    {"output_norm.weight", DType::F32, {128}, Cut::kWhole},
    {"output.weight", DType::F16, {64, 128}, Cut::kRows},
};

// The launchers' variables --shard auto reads.
constexpr const char* kLauncherVars[] = {"RANK",     "WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                                         "PMI_RANK", "PMI_SIZE",   "SLURM_PROCID",         "SLURM_NTASKS",
                                         "WEIGHTMAP_MPI"};

// Clears the launcher variables (a test may itself run under srun or
// mpirun) and restores them when done. The variables these tests set fake
// a launcher that is not there, so the CLI must not start MPI for them
// (WEIGHTMAP_MPI=off; under a fake Open MPI rank MPI would come up as a
// one-rank singleton and the CLI would refuse the mismatch).
class LauncherEnv {
 public:
  LauncherEnv() {
    for (const char* v : kLauncherVars) {
      const char* old = std::getenv(v);
      saved_[v] = old ? std::optional<std::string>(old) : std::nullopt;
      test::set_env(v, nullptr);
    }
    test::set_env("WEIGHTMAP_MPI", "off");
  }
  ~LauncherEnv() {
    for (const auto& [name, value] : saved_) test::set_env(name.c_str(), value ? value->c_str() : nullptr);
  }
  void set(const char* name, const std::string& value) { test::set_env(name, value.c_str()); }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

uint64_t nbytes_of(DType dtype, const std::vector<uint64_t>& shape) {
  auto n = tensor_nbytes(dtype, shape);
  EXPECT_TRUE(n.nbytes) << n.reason;
  return n.nbytes.value_or(0);
}

std::vector<uint64_t> shape_of(simdjson::dom::element array) {
  std::vector<uint64_t> out;
  for (simdjson::dom::element d : array.get_array()) out.push_back(uint64_t(d));
  return out;
}

class ShardCli : public ::testing::Test {
 protected:
  void SetUp() override {
    st_ = dir_.file("hf.safetensors");
    gguf_ = dir_.file("llama.gguf");
    SafetensorsWriter sw;
    uint32_t seed = 1;
    for (const Spec& s : kHfModel)
      sw.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(test::pattern(nbytes_of(s.dtype, s.shape), seed++)));
    Status st = sw.write(st_);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
    GgufWriter gw(3, 32);
    for (const Spec& s : kGgufModel)
      gw.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(test::pattern(nbytes_of(s.dtype, s.shape), seed++)));
    st = gw.write(gguf_);
    ASSERT_TRUE(st.ok()) << st.error().to_string();
  }

  // `load --json --tensors ARGS`, parsed; fails the test on a bad exit or bad JSON.
  simdjson::dom::element load_json(const std::string& args, test::CommandResult* result = nullptr) {
    auto r = run_cli("load --json --tensors " + args);
    EXPECT_EQ(r.exit_code, 0) << "load " << args << "\n" << r.err;
    simdjson::dom::element doc;
    auto err = parsers_.emplace_back(std::make_unique<simdjson::dom::parser>())->parse(r.out).get(doc);
    EXPECT_FALSE(err) << "not JSON: " << r.out;
    if (result) *result = r;
    return doc;
  }

  // Every rank of `world` loaded with --split llama: each rank's shard and
  // slices as the specs say, and the ranks' bytes adding up to the model's.
  void check_all_ranks(const std::string& path, const std::vector<Spec>& specs, uint32_t world) {
    uint64_t full = 0, replicated = 0, rows = 0, cols = 0, whole = 0;
    for (const Spec& s : specs) {
      uint64_t n = nbytes_of(s.dtype, s.shape);
      full += n;
      if (s.cut == Cut::kWhole) replicated += n, ++whole;
      else (s.cut == Cut::kRows ? rows : cols) += 1;
    }
    uint64_t sum = 0;
    for (uint32_t rank = 0; rank < world; ++rank) {
      SCOPED_TRACE(fmt::format("{} rank {} of {}", path, rank, world));
      simdjson::dom::element doc = load_json(fmt::format("--shard {}/{} --split llama {}", rank, world, path));
      if (::testing::Test::HasFailure()) return;
      simdjson::dom::element sh = doc["shard"];
      EXPECT_EQ(uint64_t(sh["rank"]), rank);
      EXPECT_EQ(uint64_t(sh["world"]), world);
      EXPECT_EQ(std::string_view(sh["source"]), "--shard");
      EXPECT_TRUE(contains(std::string(std::string_view(sh["rules"])), "=rows")) << sh["rules"];  // presets expanded
      EXPECT_EQ(uint64_t(sh["tensors_rows"]), rows);
      EXPECT_EQ(uint64_t(sh["tensors_cols"]), cols);
      EXPECT_EQ(uint64_t(sh["tensors_replicated"]), whole);
      EXPECT_EQ(uint64_t(sh["full_bytes"]), full);
      uint64_t bytes = sh["bytes"];
      EXPECT_EQ(uint64_t(doc["bytes_total"]), bytes);  // the report counts what this rank loaded
      EXPECT_EQ(uint64_t(doc["tensors"]), specs.size());
      sum += bytes;

      uint64_t per_tensor_sum = 0;
      size_t i = 0;
      for (simdjson::dom::element t : doc["per_tensor"].get_array()) {
        ASSERT_LT(i, specs.size());
        const Spec& s = specs[i++];
        SCOPED_TRACE(s.name);
        EXPECT_EQ(std::string_view(t["name"]), s.name);
        uint64_t nbytes = t["nbytes"];
        per_tensor_sum += nbytes;
        simdjson::dom::element slice;
        bool sliced = !t["slice"].get(slice);
        if (s.cut == Cut::kWhole) {
          EXPECT_FALSE(sliced) << t;
          EXPECT_EQ(nbytes, nbytes_of(s.dtype, s.shape));
          continue;
        }
        ASSERT_TRUE(sliced) << t;
        const bool by_rows = s.cut == Cut::kRows;
        uint64_t n = by_rows ? s.shape.front() : s.shape.back();
        EXPECT_EQ(std::string_view(slice["dim"]), by_rows ? "rows" : "cols");
        EXPECT_EQ(uint64_t(slice["count"]), n / world);
        EXPECT_EQ(uint64_t(slice["start"]), rank * (n / world));
        EXPECT_EQ(uint64_t(slice["padded"]), 0u);
        EXPECT_EQ(shape_of(slice["full_shape"]), s.shape);
        std::vector<uint64_t> part = s.shape;
        (by_rows ? part.front() : part.back()) = n / world;
        EXPECT_EQ(nbytes, nbytes_of(s.dtype, part));
        if (by_rows || world == 1) {  // one rank's columns are all of them: one range
          EXPECT_EQ(std::string_view(t["placement"]), "map") << "an unpadded row slice stays mapped";
        } else {
          EXPECT_EQ(std::string_view(t["placement"]), "copy");
          EXPECT_EQ(std::string_view(t["reason"]), "column slice: gathered row by row");
        }
      }
      EXPECT_EQ(i, specs.size());
      EXPECT_EQ(per_tensor_sum, bytes);
    }
    // Even splits: the sliced tensors' bytes are shared out exactly; the
    // whole ones are on every rank.
    EXPECT_EQ(sum, full + (world - 1) * replicated);
  }

  TempDir dir_;
  std::string st_, gguf_;
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers_;  // each document lives as long as its parser
};

TEST_F(ShardCli, SafetensorsRanksAddUp) {
  for (uint32_t world : {1u, 2u, 4u}) check_all_ranks(st_, kHfModel, world);
}

TEST_F(ShardCli, GgufQuantisedRanksAddUp) {
  for (uint32_t world : {2u, 4u}) check_all_ranks(gguf_, kGgufModel, world);
}

TEST_F(ShardCli, PaddedRowsZeroFillTheLastRank) {
  // 50 rows over 4 ranks: 13 each, the last has 11 and 2 zero rows.
  std::string path = dir_.file("head.safetensors");
  SafetensorsWriter w;
  w.add_tensor("lm_head.weight", DType::F16, {50, 32}, TensorData::bytes(test::pattern(50 * 32 * 2, 7)));
  w.add_tensor("norm.weight", DType::F32, {32}, TensorData::bytes(test::pattern(32 * 4, 8)));
  ASSERT_TRUE(w.write(path).ok());
  uint64_t sum = 0;
  for (uint32_t rank = 0; rank < 4; ++rank) {
    SCOPED_TRACE(rank);
    simdjson::dom::element doc = load_json(fmt::format("--shard {}/4 --split llama {}", rank, path));
    if (HasFailure()) return;
    simdjson::dom::element slice = doc["per_tensor"].at(0)["slice"];
    EXPECT_EQ(std::string_view(slice["dim"]), "rows");
    EXPECT_EQ(uint64_t(slice["start"]), 13u * rank);
    EXPECT_EQ(uint64_t(slice["count"]), rank < 3 ? 13u : 11u);
    EXPECT_EQ(uint64_t(slice["padded"]), rank < 3 ? 0u : 2u);
    EXPECT_EQ(uint64_t(doc["per_tensor"].at(0)["nbytes"]), 13u * 32 * 2);  // padding included
    if (rank == 3) {
      EXPECT_NE(std::string_view(doc["per_tensor"].at(0)["reason"]), "");  // padded: a copy, and why
    }
    EXPECT_EQ(uint64_t(doc["shard"]["tensors_replicated"]), 1u);
    EXPECT_EQ(uint64_t(doc["shard"]["full_bytes"]), 50u * 32 * 2 + 32 * 4);
    sum += uint64_t(doc["shard"]["bytes"]);
  }
  EXPECT_EQ(sum, 4u * 13 * 32 * 2 + 4 * 32 * 4);
}

TEST_F(ShardCli, CustomRulesAndRanges) {
  // Rules by pattern, first match wins; a fixed range is the same on every rank.
  std::string rules = "'*.q_proj.weight=rows[8:24],*_proj.weight=cols,*=replicate'";
  for (uint32_t rank : {0u, 1u}) {
    simdjson::dom::element doc = load_json(fmt::format("--shard {}/2 --split {} {}", rank, rules, st_));
    if (HasFailure()) return;
    EXPECT_EQ(uint64_t(doc["shard"]["tensors_rows"]), 1u);
    EXPECT_EQ(uint64_t(doc["shard"]["tensors_cols"]), 6u);  // k, v, o, gate, up, down
    EXPECT_EQ(uint64_t(doc["shard"]["tensors_replicated"]), 4u);
    for (simdjson::dom::element t : doc["per_tensor"].get_array()) {
      if (std::string_view(t["name"]) != "model.layers.0.self_attn.q_proj.weight") continue;
      EXPECT_EQ(uint64_t(t["slice"]["start"]), 8u);
      EXPECT_EQ(uint64_t(t["slice"]["count"]), 16u);
    }
  }
}

TEST_F(ShardCli, TextShowsTheShardAndEachSlice) {
  auto r = run_cli("load --tensors --shard 1/4 --split llama " + st_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "shard: rank 1 of 4 (from --shard): 7 tensors by rows, 2 by columns, 2 whole; ")) << r.out;
  EXPECT_TRUE(contains(r.out, "model.layers.0.self_attn.q_proj.weight  [rows 8..15 of 32]")) << r.out;
  EXPECT_TRUE(contains(r.out, "model.layers.0.self_attn.o_proj.weight  [cols 8..15 of 32]  (column slice: gathered "
                              "row by row)"))
      << r.out;
  // Without --shard nothing of it.
  r = run_cli("load --tensors " + st_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.out, "shard:")) << r.out;
  EXPECT_FALSE(contains(r.out, "[rows")) << r.out;
  simdjson::dom::element doc = load_json(st_);
  simdjson::dom::element unused;
  if (!HasFailure()) {
    EXPECT_TRUE(doc["per_tensor"].at(2)["slice"].get(unused)) << "no slice object without --shard";
  }
}

TEST_F(ShardCli, AutoReadsTheLaunchersEnvironment) {
  LauncherEnv env;
  env.set("OMPI_COMM_WORLD_RANK", "1");
  env.set("OMPI_COMM_WORLD_SIZE", "2");
  env.set("SLURM_PROCID", "0");  // mpirun inside an allocation: the inner launcher wins
  env.set("SLURM_NTASKS", "1");
  simdjson::dom::element doc = load_json("--shard auto --split llama " + st_);
  if (HasFailure()) return;
  EXPECT_EQ(uint64_t(doc["shard"]["rank"]), 1u);
  EXPECT_EQ(uint64_t(doc["shard"]["world"]), 2u);
  EXPECT_EQ(std::string_view(doc["shard"]["source"]), "OMPI_COMM_WORLD_RANK");
  EXPECT_EQ(uint64_t(doc["per_tensor"].at(2)["slice"]["start"]), 16u);  // q_proj: rows 16..31 of 32

  auto r = run_cli("load --shard auto --split llama " + st_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "shard: rank 1 of 2 (from OMPI_COMM_WORLD_RANK): ")) << r.out;

  // torchrun started by mpirun (one per node): its own RANK/WORLD_SIZE win.
  env.set("RANK", "3");
  env.set("WORLD_SIZE", "4");
  doc = load_json("--shard auto --split llama " + st_);
  if (HasFailure()) return;
  EXPECT_EQ(uint64_t(doc["shard"]["rank"]), 3u);
  EXPECT_EQ(uint64_t(doc["shard"]["world"]), 4u);
  EXPECT_EQ(std::string_view(doc["shard"]["source"]), "RANK");

  // MPICH / Intel MPI, and Slurm alone.
  test::set_env("RANK", nullptr);
  test::set_env("WORLD_SIZE", nullptr);
  test::set_env("OMPI_COMM_WORLD_RANK", nullptr);
  test::set_env("OMPI_COMM_WORLD_SIZE", nullptr);
  env.set("PMI_RANK", "0");
  env.set("PMI_SIZE", "2");
  doc = load_json("--shard auto --split llama " + st_);
  if (HasFailure()) return;
  EXPECT_EQ(std::string_view(doc["shard"]["source"]), "PMI_RANK");
  test::set_env("PMI_RANK", nullptr);
  test::set_env("PMI_SIZE", nullptr);
  doc = load_json("--shard auto " + st_);  // world 1: --split not needed, nothing cut
  if (HasFailure()) return;
  EXPECT_EQ(std::string_view(doc["shard"]["source"]), "SLURM_PROCID");
  EXPECT_EQ(uint64_t(doc["shard"]["world"]), 1u);
  EXPECT_EQ(uint64_t(doc["shard"]["bytes"]), uint64_t(doc["shard"]["full_bytes"]));
}

TEST_F(ShardCli, AutoWithoutALauncherFails) {
  LauncherEnv env;
  auto r = run_cli("load --shard auto --split llama " + st_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "weightmap: error: --shard auto: no launcher")) << r.err;
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", "WORLD_SIZE"})
    EXPECT_TRUE(contains(r.err, v)) << r.err;
  // Half a pair is no pair, and says so.
  env.set("PMI_RANK", "1");
  r = run_cli("load --shard auto --split llama " + st_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "PMI_RANK is set but not PMI_SIZE")) << r.err;
  // Values that are not a rank of the world.
  env.set("PMI_SIZE", "1");
  r = run_cli("load --shard auto --split llama " + st_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "PMI_RANK=1 is not below PMI_SIZE=1")) << r.err;
  env.set("PMI_RANK", "one");
  r = run_cli("load --shard auto --split llama " + st_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "PMI_RANK='one'")) << r.err;
}

TEST_F(ShardCli, BadShardAndSplitFlags) {
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--shard 1-4 --split llama", "--shard '1-4': expected RANK/WORLD"},
      {"--shard a/b --split llama", "--shard 'a/b': expected RANK/WORLD"},
      {"--shard 1/ --split llama", "expected RANK/WORLD"},
      {"--shard -1/4 --split llama", "expected RANK/WORLD"},
      {"--shard 4/4 --split llama", "rank 4 is not below the world size 4"},
      {"--shard 0/0 --split llama", "the world size must be at least 1"},
      {"--shard 1/4", "--shard 1/4 needs --split"},
      {"--shard 1/4 --split ,", "needs --split"},
      {"--split llama", "--split needs --shard"},
      {"--shard 1/4 --split nonsense", "rank 1 of 4: split rule 'nonsense' is neither PATTERN=HOW nor a preset"},
      {"--shard 1/4 --split '*=diagonal'", "unknown split"},
  };
  for (const Case& c : cases) {
    auto r = run_cli("load " + c.args + " " + st_);
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_TRUE(contains(r.err, c.message)) << c.args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << ": " << r.out;
  }
  // The missing --split names the presets.
  auto r = run_cli("load --shard 1/4 " + st_);
  EXPECT_TRUE(contains(r.err, "llama, diffusion")) << r.err;
}

TEST_F(ShardCli, UnevenWithoutPadNamesTheTensorAndTheRank) {
  // q_proj's 32 rows do not divide among 3 ranks.
  auto r = run_cli("load --shard 1/3 --split '*.q_proj.weight=rows' " + st_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "weightmap: error: rank 1 of 3: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "model.layers.0.self_attn.q_proj.weight")) << r.err;
  EXPECT_TRUE(contains(r.err, ":pad")) << r.err;
  // ... and with :pad it loads.
  simdjson::dom::element doc = load_json("--shard 2/3 --split '*.q_proj.weight=rows:pad' " + st_);
  if (HasFailure()) return;
  EXPECT_EQ(uint64_t(doc["per_tensor"].at(2)["slice"]["count"]), 10u);  // 11 + 11 + 10
  EXPECT_EQ(uint64_t(doc["per_tensor"].at(2)["slice"]["padded"]), 1u);
}

TEST_F(ShardCli, QuantisedCutsOffBlockBoundariesAreRefused) {
  // 128 Q8_0 columns among 8 ranks: 16 each, half a block of 32.
  auto r = run_cli("load --shard 3/8 --split llama " + gguf_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "weightmap: error: rank 3 of 8: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "blk.0.attn_output.weight")) << r.err;
  EXPECT_TRUE(contains(r.err, "block")) << r.err;
}

TEST_F(ShardCli, ErrorsNameTheRank) {
  auto r = run_cli("load --shard 2/4 --split llama " + dir_.file("missing.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "weightmap: error: rank 2 of 4: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "missing.safetensors")) << r.err;
  // verify and run share the load options.
  r = run_cli("verify --shard 1/2 --split llama " + st_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_cli("run --shard 1/2 --split llama " + gguf_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace wm
