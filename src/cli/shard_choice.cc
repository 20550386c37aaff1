#include "cli/shard_choice.h"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <string_view>
#include <vector>

namespace wm::cli {
namespace {

// Launchers' rank and size variables, innermost launcher first: torchrun
// is started by srun or mpirun (one per node) and sets its own workers'
// ranks, so its pair must win over the outer launcher's, which every
// worker inherits unchanged.
struct LauncherVars {
  const char* rank;
  const char* size;
  const char* launcher;
};
constexpr LauncherVars kLaunchers[] = {
    {"RANK", "WORLD_SIZE", "torchrun"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI"},
    {"PMI_RANK", "PMI_SIZE", "MPICH, Intel MPI"},
    {"SLURM_PROCID", "SLURM_NTASKS", "Slurm"},
};

constexpr const char* kSplitHelp =
    "give --split with a preset (llama, diffusion) or rules PATTERN=HOW,... where HOW is rows, cols, rows:pad, "
    "cols:pad, rows[A:B], cols[A:B] or replicate (e.g. --split llama, or --split '*.q_proj.weight=rows,"
    "*.o_proj.weight=cols')";

Error invalid(std::string message) { return Error{{}, {}, {}, std::move(message), ErrorCode::kInvalidArgument}; }

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<ShardChoice> from_env(const EnvLookup& env) {
  std::vector<std::string> half;  // pairs with only one of their two variables set
  for (const LauncherVars& l : kLaunchers) {
    auto rank = env(l.rank), size = env(l.size);
    if (!rank && !size) continue;
    if (!rank || !size) {
      half.push_back(fmt::format("{} is set but not {}", rank ? l.rank : l.size, rank ? l.size : l.rank));
      continue;
    }
    auto r = parse_u32(*rank), w = parse_u32(*size);
    if (!r) return invalid(fmt::format("--shard auto: {}='{}' is not a rank (a number from 0)", l.rank, *rank));
    if (!w || *w == 0)
      return invalid(fmt::format("--shard auto: {}='{}' is not a world size (a number from 1)", l.size, *size));
    if (*r >= *w)
      return invalid(fmt::format("--shard auto: {}={} is not below {}={}", l.rank, *r, l.size, *w));
    ShardChoice c;
    c.active = true;
    c.rank = *r;
    c.world = *w;
    c.source = l.rank;
    return c;
  }
  std::string looked;
  for (const LauncherVars& l : kLaunchers) looked += fmt::format("{}{}/{} ({})", looked.empty() ? "" : ", ", l.rank,
                                                                  l.size, l.launcher);
  std::string partial;
  for (const auto& h : half) partial += "; " + h;
  return invalid(fmt::format("--shard auto: no launcher's rank and world size in the environment (looked for {}{}); "
                             "start under mpirun, srun or torchrun, or give --shard RANK/WORLD",
                             looked, partial));
}

std::string& prefix_storage() {
  static std::string prefix;
  return prefix;
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

Result<ShardChoice> shard_choice(const std::string& shard, const std::string& split, const EnvLookup& env) {
  if (shard.empty()) {
    if (!split.empty()) return invalid("--split needs --shard RANK/WORLD (e.g. --shard 1/4) or --shard auto");
    return ShardChoice{};
  }
  ShardChoice c;
  if (shard == "auto") {
    auto e = from_env(env);
    if (!e) return e.error();
    c = std::move(e.value());
  } else {
    size_t slash = shard.find('/');
    auto r = slash == std::string::npos ? std::nullopt : parse_u32(std::string_view(shard).substr(0, slash));
    auto w = slash == std::string::npos ? std::nullopt : parse_u32(std::string_view(shard).substr(slash + 1));
    if (!r || !w)
      return invalid(fmt::format("--shard '{}': expected RANK/WORLD (e.g. 1/4: rank 1 of 4, ranks from 0) or auto",
                                 shard));
    if (*w == 0) return invalid(fmt::format("--shard '{}': the world size must be at least 1", shard));
    if (*r >= *w)
      return invalid(fmt::format("--shard '{}': rank {} is not below the world size {} (ranks are 0..{})", shard, *r,
                                 *w, *w - 1));
    c.active = true;
    c.rank = *r;
    c.world = *w;
    c.source = "--shard";
  }
  c.rules = split;
  if (c.world > 1 && split.find_first_not_of(" ,") == std::string::npos)
    return invalid(fmt::format("--shard {}{} needs --split, else every rank loads every tensor whole: {}", shard,
                               shard == "auto" ? ": " + shard_who(c) + "," : "", kSplitHelp));
  return c;
}

std::string shard_who(const ShardChoice& c) {
  return fmt::format("rank {} of {} (from {})", c.rank, c.world, c.source);
}

void set_error_rank(const ShardChoice& c) {
  prefix_storage() = c.active ? fmt::format("rank {} of {}: ", c.rank, c.world) : std::string();
}

const std::string& error_rank_prefix() { return prefix_storage(); }

}  // namespace wm::cli
